"""Per-call metadata: a JSON sidecar next to the audio, a filename pattern, then defaults.

`call.wav` -> `call.json`. All sidecar fields are optional; unknown fields are kept in
`extra`. A sidecar that is not valid JSON, or a known field with an impossible value,
raises `MetadataError` naming the file and the field. Two fields never lose the call: a
`customer_id` that is not a string or number and a `csat` (post-call survey score) outside 1-5
are dropped with a readable reason in `metadata_warnings` (kept in `calls.metadata_json`).
A `started_at` without an offset is read in the given time zone (`metadata_timezone`).
"""

from __future__ import annotations

import json
import re
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)


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
    csat: int | None = Field(None, ge=1, le=5)  # post-call survey score, when the sidecar carries one

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


def parse_csat(value: Any) -> tuple[int | None, str | None]:
    """A survey score 1-5 (int, integral float or digit string) and None, or None and why it is unusable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            number = None
    if number is not None and number.is_integer() and 1 <= number <= 5:
        return int(number), None
    return None, f"field 'csat': {str(value)[:40]!r} is not a survey score 1-5 (left out; the call is kept)"


def _lenient(values: dict[str, Any]) -> list[str]:
    """Drop (with a reason) the fields that must never cost the call: csat, an unusable customer_id."""
    warnings = []
    if "csat" in values:
        values["csat"], why = parse_csat(values["csat"])
        if why:
            warnings.append(why)
    cid = values.get("customer_id")
    if cid is not None and (isinstance(cid, bool) or not isinstance(cid, (str, int, float))):
        values["customer_id"] = None
        warnings.append(f"field 'customer_id': a {type(cid).__name__} is not a customer id (left out: unknown customer)")
    return warnings


def read_metadata(audio_path: str | Path, filename_pattern: str | None = None,
                  timezone: str | None = None) -> CallMetadata:
    """Metadata for `audio_path`: sidecar fields win over filename-pattern fields.

    `timezone` (IANA name) is the zone of a `started_at` given without an offset (default UTC)."""
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
    warnings = _lenient(values)
    if warnings:
        values["metadata_warnings"] = warnings
        log.warning("metadata for %s: %s", audio_path.name, "; ".join(warnings))
    try:
        meta = CallMetadata(**values)
    except ValidationError as exc:
        raise MetadataError(f"metadata for {audio_path.name} ({side.name}): {_describe(exc)}") from None
    if meta.started_at is not None and meta.started_at.tzinfo is None:  # stored as an instant (UTC)
        meta.started_at = meta.started_at.replace(tzinfo=ZoneInfo(timezone or "UTC"))
    if meta.call_id is None:  # a file name may hold anything: keep the safe characters
        meta.call_id = _UNSAFE.sub("_", audio_path.stem)[:CALL_ID_MAX] or "call"
    elif not SAFE_CALL_ID.fullmatch(meta.call_id):
        raise MetadataError(
            f"metadata for {audio_path.name} ({side.name}): field 'call_id': {meta.call_id[:80]!r} is not a safe call id "
            f"(letters, digits, '.', '_', '-'; at most {CALL_ID_MAX} characters, starting with a letter or digit)")
    return meta
