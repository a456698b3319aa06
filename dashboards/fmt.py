"""Plain formatting helpers shared by the dashboard pages (no Streamlit, no database)."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

# Material icons ship with Streamlit (no emoji font needed on offline thin clients).
OUTCOME_ICONS: dict[str, str] = {
    "pass": ":green[:material/check_circle:]",
    "fail": ":red[:material/cancel:]",
    "na": ":gray[:material/do_not_disturb_on:]",
}
ROLE_LABELS: dict[str, str] = {"agent": "Agent", "customer": "Customer", "unknown": "Unknown speaker"}
ROLE_AVATARS: dict[str, str] = {
    "agent": ":material/support_agent:",
    "customer": ":material/person:",
    "unknown": ":material/question_mark:",
}
ROLE_COLOURS: dict[str, str] = {"agent": "blue", "customer": "orange", "unknown": "gray"}
BAND_LABELS: dict[str, str] = {"exceeds": "Exceeds", "meets": "Meets", "needs_coaching": "Needs coaching"}
AUDIO_FORMATS: dict[str, str] = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".webm": "audio/webm",
}
LOW_ROLE_CONFIDENCE = 0.7


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):  # pandas NA raises on bool()
        return True


def flag(value: Any) -> bool:
    """A nullable boolean column value as a plain bool (NULL -> False)."""
    return False if is_missing(value) else bool(value)


def text_or_empty(value: Any) -> str:
    """A nullable text column value as a string (NULL -> "")."""
    return "" if is_missing(value) else str(value)


def mmss(seconds: float | None) -> str:
    """Seconds as `mm:ss` (minutes may exceed 59); `–` when unknown."""
    if is_missing(seconds):
        return "–"
    total = max(0, int(math.floor(float(seconds) + 1e-6)))
    return f"{total // 60:02d}:{total % 60:02d}"


def pct(value: float | None, digits: int = 1) -> str:
    """A percentage such as `83.3 %`; `–` when unknown."""
    return "–" if is_missing(value) else f"{float(value):.{digits}f} %"


def band_label(band: str | None) -> str:
    """Human name of a score band (`needs_coaching` -> `Needs coaching`)."""
    if is_missing(band) or not band:
        return "–"
    return BAND_LABELS.get(str(band), str(band).replace("_", " ").capitalize())


def role_label(role: str | None) -> str:
    """Display name of an utterance role; anything unexpected reads as unknown."""
    return ROLE_LABELS.get(str(role), ROLE_LABELS["unknown"]) if not is_missing(role) else ROLE_LABELS["unknown"]


def outcome_label(outcome: str | None) -> str:
    """`pass`, `fail` or `n/a` (plain text, for tables and captions)."""
    if is_missing(outcome):
        return "–"
    return "n/a" if outcome == "na" else str(outcome)


def display_timezone() -> str:
    """The configured `display_timezone` (default Europe/Istanbul); a bad name falls back to UTC."""
    from qa.config import display_timezone as configured

    return configured()


def when(value: datetime | date | None, tz: str | None = None) -> str:
    """A timestamp in the display time zone, labelled: `2025-02-19 12:30 +03`; `–` when unknown.

    Stored times are UTC instants; a naive value is taken as UTC.
    """
    from datetime import timezone as _tz
    from zoneinfo import ZoneInfo

    if is_missing(value):
        return "–"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=_tz.utc)
        local = aware.astimezone(ZoneInfo(tz or display_timezone()))
        return local.strftime("%Y-%m-%d %H:%M ") + (local.strftime("%Z") or local.strftime("%z"))
    return str(value)


def audio_format(path: str | Path) -> str:
    """The MIME type `st.audio` should announce for a file, from its extension."""
    return AUDIO_FORMATS.get(Path(str(path)).suffix.lower(), "audio/wav")


def score_text(score: float | None, max_score: float | None) -> str:
    """Item points as `2/2`; n/a items (max 0) read `–`."""
    if is_missing(max_score) or float(max_score) == 0:
        return "–"
    s = 0.0 if is_missing(score) else float(score)
    return f"{s:g}/{float(max_score):g}"


_MD_SPECIAL = set("\\`*_[]<>#|~$:{}")


def md_escape(text: str | None) -> str:
    """Escape transcript text for `st.markdown` (no accidental bold, links, LaTeX or :colour[] tags)."""
    if is_missing(text) or not text:
        return ""
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in str(text))
