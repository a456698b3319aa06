"""A call's audio for one viewer: read only after the role check, redacted unless they may unmask.

The redacted rendering is the one `callqa export` writes (`qa.export`: the PII time ranges
toned out, on every channel, at the recording's own rate), encoded as WAV in memory. The
original is returned only to a viewer granted `unmask_audio`, and every play is audited by the
caller (`dashboards/audio_route.py`). Nothing here writes a file.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.access.model import AccessDenied, Viewer
from qa.access.repository import DuckDBRepository

MAX_AUDIO_BYTES = 400 * 1024 * 1024  # a recording larger than this is refused rather than held in memory
_CACHE_ENTRIES = 4


class AudioUnavailable(LookupError):
    """The call is visible but its recording cannot be played (moved, changed, failed call)."""


@dataclass(frozen=True)
class AudioClip:
    call_id: str
    data: bytes
    mime: str
    redacted: bool
    covered_s: float


_cache: OrderedDict[tuple, AudioClip] = OrderedDict()
_cache_lock = threading.Lock()


def call_audio(repo: DuckDBRepository, viewer: Viewer, call_id: str, original: bool = False,
               mode: str = "tone") -> AudioClip:
    """The call's recording as this viewer may hear it. Raises AccessDenied before any byte is read."""
    detail = repo.require(viewer, call_id)  # the scope check, in SQL
    if original and not viewer.can_unmask_audio:
        raise AccessDenied(f"{viewer.identity} is not granted unmask_audio")
    row = detail.row
    if row.get("status") != "ok":
        raise AudioUnavailable(f"call {call_id!r} was not processed successfully")
    src = Path(row.get("source_path") or "")
    if not src.is_file():
        raise AudioUnavailable(f"the recording of {call_id!r} is no longer at {src}")
    if src.stat().st_size > MAX_AUDIO_BYTES:
        raise AudioUnavailable(f"the recording of {call_id!r} is larger than {MAX_AUDIO_BYTES // 2**20} MiB")
    stat = src.stat()
    key = (str(repo.db), call_id, str(src), stat.st_mtime_ns, stat.st_size, original, mode)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    clip = _render(repo, viewer, call_id, src, row.get("content_sha256"), original, mode)
    with _cache_lock:
        _cache[key] = clip
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return clip


def _render(repo: DuckDBRepository, viewer: Viewer, call_id: str, src: Path, sha: str | None, original: bool,
            mode: str) -> AudioClip:
    import soundfile as sf

    from qa.audio import AudioError
    from qa.export import _read_native, cover, merge_ranges
    from qa.pipeline import file_sha256

    if sha and file_sha256(src) != sha:
        raise AudioUnavailable(f"{src.name} is not the audio that was processed for {call_id!r} (content hash differs)")
    try:
        samples, sr = _read_native(src)
    except AudioError as exc:
        raise AudioUnavailable(f"cannot decode the recording of {call_id!r}: {exc}") from exc
    ranges: list[tuple[float, float]] = []
    if not original:
        ranges = merge_ranges(repo.redaction_spans(viewer, call_id), 0.15, samples.shape[1] / sr)
        samples = cover(samples, sr, ranges, mode)
    buf = io.BytesIO()
    sf.write(buf, np.clip(samples.T, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")
    return AudioClip(call_id, buf.getvalue(), "audio/wav", not original, round(sum(b - a for a, b in ranges), 3))
