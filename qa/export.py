"""Redacted audio export: a copy of a call with the spoken personal data covered.

The store keeps, per call, the time ranges where card numbers, TC kimlik numbers, IBANs,
phone numbers and e-mail addresses were spoken (`pii_redactions`). The export writes a
new file (WAV PCM16 or FLAC) at the recording's own sample rate and channel count, with a
1 kHz tone or silence over every range (plus a small margin, since word times are
approximate), on every channel. The original is never modified, and the export refuses a
source whose content no longer matches the hash the ranges were computed for.

Before writing, the stored transcript is read back for number streams of 6+ digits that no range
covers (`qa.pii.digit_runs`): a call with such streams and no range at all is refused
(`UnredactedError`; `allow_unredacted=True` overrides), one with ranges gets a warning per stream
(time and length only, never the digits).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.audio import AudioError, load_audio
from qa.pipeline import file_sha256
from qa.store import Store

TONE_HZ = 1000.0
TONE_LEVEL = 0.1  # -20 dBFS: clearly a bleep, not painful


class UnredactedError(ValueError):
    """The call has spoken digit streams and no redaction range: a "redacted" copy would not be."""


@dataclass
class ExportResult:
    call_id: str
    out_path: Path
    ranges: list[tuple[float, float]]  # covered time ranges (with the margin)
    covered_s: float
    sample_rate: int
    channels: int
    warnings: list[str] = field(default_factory=list)  # digit streams no range covers (time, length)


def _read_native(path: Path) -> tuple[np.ndarray, int]:
    """(channels x samples float32, sample rate) at the file's own rate; FFmpeg path resamples to 16 kHz."""
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return data.T.copy(), int(sr)
    except Exception:
        audio = load_audio(path)
        return audio.channels, audio.sample_rate


def merge_ranges(spans: list[tuple[float, float]], margin_s: float, duration_s: float) -> list[tuple[float, float]]:
    """Widen each span by the margin, clip to the recording and merge overlaps."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        lo, hi = max(0.0, start - margin_s), min(duration_s, end + margin_s)
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def cover(samples: np.ndarray, sr: int, ranges: list[tuple[float, float]], mode: str = "tone") -> np.ndarray:
    """A copy of `samples` (channels x n) with tone or silence over `ranges`, with 5 ms fades."""
    out = samples.copy()
    fade = max(1, int(0.005 * sr))
    for start, end in ranges:
        a, b = int(start * sr), min(out.shape[1], int(np.ceil(end * sr)))
        n = b - a
        if n <= 0:
            continue
        if mode == "tone":
            t = np.arange(n) / sr
            fill = (TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
            ramp = np.ones(n, dtype=np.float32)
            k = min(fade, n // 2)
            if k:
                ramp[:k] = np.linspace(0, 1, k)
                ramp[-k:] = np.linspace(1, 0, k)
            fill *= ramp
        elif mode == "silence":
            fill = np.zeros(n, dtype=np.float32)
        else:
            raise ValueError(f"mode must be 'tone' or 'silence', got {mode!r}")
        out[:, a:b] = fill
    return out


def export_redacted(
    store: Store,
    call_id: str,
    out_path: str | Path,
    mode: str = "tone",
    margin_s: float = 0.15,
    source: str | Path | None = None,
    allow_unredacted: bool = False,
) -> ExportResult:
    """Write a redacted copy of a stored call's recording to `out_path` (.wav or .flac)."""
    import soundfile as sf

    rows = store.query("SELECT source_path, content_sha256, status FROM calls WHERE call_id = ?", [call_id])
    if not rows:
        raise LookupError(f"call {call_id!r} is not in the store")
    src_path, sha, status = rows[0]
    if status != "ok":
        raise LookupError(f"call {call_id!r} was not processed successfully; nothing to export")
    src = Path(source or src_path)
    if not src.is_file():
        raise FileNotFoundError(f"the recording of {call_id!r} is no longer at {src}; pass its new location")
    if sha and file_sha256(src) != sha:
        raise AudioError(f"{src} is not the audio that was processed for {call_id!r} (content hash differs)")
    spans = [(float(s), float(e)) for s, e in store.query(
        "SELECT start_s, end_s FROM pii_redactions WHERE call_id = ? ORDER BY start_s", [call_id])]
    uncovered = uncovered_digit_runs(store, call_id, spans)
    if uncovered and not spans and not allow_unredacted:
        raise UnredactedError(
            f"call {call_id!r} has {len(uncovered)} spoken number stream(s) of 6+ digits (first at "
            f"{uncovered[0][0]:.1f} s) and no redaction range: the copy would not be redacted. Re-process the call "
            "with the current redaction (callqa process --force), or pass --allow-unredacted")
    warnings = [f"{a:.1f}-{b:.1f} s: a {n}-digit number stream no redaction range covers" for a, b, n in uncovered]
    samples, sr = _read_native(src)
    duration = samples.shape[1] / sr
    ranges = merge_ranges(spans, margin_s, duration)
    redacted = cover(samples, sr, ranges, mode)
    out_path = Path(out_path)
    fmt = {".wav": "WAV", ".flac": "FLAC"}.get(out_path.suffix.lower())
    if fmt is None:
        raise ValueError(f"export to .wav or .flac, not {out_path.suffix or 'no extension'}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    sf.write(str(tmp), np.clip(redacted.T, -1.0, 1.0), sr, subtype="PCM_16", format=fmt)
    os.replace(tmp, out_path)
    return ExportResult(call_id, out_path, ranges, round(sum(b - a for a, b in ranges), 3), sr, redacted.shape[0],
                        warnings)


def uncovered_digit_runs(store: Store, call_id: str, spans: list[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """Number streams of 6+ digits in the stored words of `call_id` (per speaker) outside every span."""
    from qa.asr import Word
    from qa.pii import digit_runs

    rows = store.query(
        "SELECT u.speaker, w.start_s, w.end_s, w.text FROM words w JOIN utterances u "
        "ON u.call_id = w.call_id AND u.idx = w.utterance_idx WHERE w.call_id = ? ORDER BY w.idx", [call_id])
    lang = store.query("SELECT language FROM calls WHERE call_id = ?", [call_id])
    language = (lang[0][0] if lang and lang[0][0] else "tr")
    by_speaker: dict[str, list[Word]] = {}
    for speaker, start, end, text in rows:
        by_speaker.setdefault(speaker, []).append(Word(float(start), float(end), text, 1.0))
    runs = [r for words in by_speaker.values() for r in digit_runs(words, language)]
    return sorted(r for r in runs if not any(a <= r[0] + 0.05 and r[1] - 0.05 <= b for a, b in spans))
