"""Per-call metadata: a JSON sidecar next to the audio, a filename pattern, then defaults.

`call.wav` -> `call.json`. All sidecar fields are optional; unknown fields are kept in
`extra`. A sidecar that is not valid JSON, or a known field with an impossible value,
raises `MetadataError` naming the file and the field.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator


# Call ids are shown in pages, links and Markdown: only letters, digits, '.', '_' and '-' (a crafted
# id such as "[x](http://evil)" or "![](...)" is refused at ingest).
CALL_ID_MAX = 128
SAFE_CALL_ID = re.compile(r"[^\W_][\w.\-]{0,%d}" % (CALL_ID_MAX - 1))
_UNSAFE = re.compile(r"[^\w.\-]+")


class MetadataError(ValueError):
    """The call's metadata is unusable; the message names the file and the field."""


class CallMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    call_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    started_at: datetime | None = None
    direction: Literal["inbound", "outbound"] | None = None
    queue: str | None = None
    language: str | None = None
    agent_channel: Literal[0, 1] = 0
    customer_id: str | None = None

    @field_validator("call_id", "agent_id", "agent_name", "queue", "customer_id", mode="before")
    @classmethod
    def _strings(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, str):
            return v.strip() or None
        return v

    @field_validator("direction", "language", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


def sidecar_path(audio_path: Path) -> Path:
    return audio_path.with_suffix(".json")


def _from_pattern(stem: str, pattern: str | None) -> dict[str, Any]:
    if not pattern:
        return {}
    match = re.search(pattern, stem)
    if not match:
        return {}
    values = {k: v for k, v in match.groupdict().items() if v}
    if "started_at" in values:
        # filenames cannot hold ':', so "2025-02-19T06-01-22" means 06:01:22
        values["started_at"] = re.sub(r"T(\d{2})-(\d{2})-(\d{2})", r"T\1:\2:\3", values["started_at"])
    return values


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"field '{field}': {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


def read_metadata(audio_path: str | Path, filename_pattern: str | None = None) -> CallMetadata:
    """Metadata for `audio_path`: sidecar fields win over filename-pattern fields."""
    audio_path = Path(audio_path)
    values: dict[str, Any] = _from_pattern(audio_path.stem, filename_pattern)
    side = sidecar_path(audio_path)
    if side.is_file():
        try:
            loaded = json.loads(side.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MetadataError(f"sidecar {side.name} is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise MetadataError(f"sidecar {side.name} must hold a JSON object, not {type(loaded).__name__}")
        values.update({k: v for k, v in loaded.items() if v is not None})
    try:
        meta = CallMetadata(**values)
    except ValidationError as exc:
        raise MetadataError(f"metadata for {audio_path.name} ({side.name}): {_describe(exc)}") from None
    if meta.call_id is None:  # a file name may hold anything: keep the safe characters
        meta.call_id = _UNSAFE.sub("_", audio_path.stem)[:CALL_ID_MAX] or "call"
    elif not SAFE_CALL_ID.fullmatch(meta.call_id):
        raise MetadataError(
            f"metadata for {audio_path.name} ({side.name}): field 'call_id': {meta.call_id[:80]!r} is not a safe call id "
            f"(letters, digits, '.', '_', '-'; at most {CALL_ID_MAX} characters, starting with a letter or digit)")
    return meta
