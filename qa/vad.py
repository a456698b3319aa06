"""Voice activity detection with the Silero v6 ONNX model that ships inside faster-whisper.

Runs offline at ~0.004x real time. Silero's output depends on the input level: a hot
telephone track (speech peaks near 0 dBFS) lost up to two thirds of one caller's speech, so
loud signals are turned down to a fixed level first (`vad_gain`; quiet ones are left alone,
so silence and line noise are never amplified). The settings here segment speech into turns
(short silences split regions), unlike `vad_filter=True` defaults which merge a whole
call into one chunk. Long signals are read in blocks (`speech_regions_blocks`), and
`plan_chunks` cuts a long call into ASR chunks in the middle of silences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.audio import SAMPLE_RATE


@dataclass(frozen=True)
class Region:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


VAD_LEVEL_DBFS = -30.0  # loud frames (95th percentile) are brought down to this level
_LEVEL_FRAME = 512
_AUDIBLE_DB = -60.0


def vad_gain(samples: np.ndarray, target_db: float = VAD_LEVEL_DBFS) -> float:
    """The gain (<= 1) that brings the 95th-percentile frame level of `samples` down to `target_db`."""
    n = len(samples) // _LEVEL_FRAME
    if n == 0:
        return 1.0
    frames = samples[: n * _LEVEL_FRAME].reshape(n, _LEVEL_FRAME).astype(np.float64)
    db = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    audible = db[db > _AUDIBLE_DB]
    if audible.size == 0:
        return 1.0
    return float(min(1.0, 10 ** ((target_db - np.percentile(audible, 95)) / 20)))


def speech_regions(
    samples: np.ndarray,
    min_silence_ms: int = 300,
    speech_pad_ms: int = 100,
    threshold: float = 0.5,
    min_speech_ms: int = 200,
) -> list[Region]:
    """Speech regions (seconds) in 16 kHz mono `samples`."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
        min_speech_duration_ms=min_speech_ms,
    )
    x = samples.astype(np.float32, copy=False)
    gain = vad_gain(x)
    if gain < 1.0:
        x = x * np.float32(gain)
    stamps = get_speech_timestamps(x, opts, sampling_rate=SAMPLE_RATE)
    return [Region(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def speech_regions_blocks(
    read,
    duration_s: float,
    block_s: float | None = None,
    min_silence_ms: int = 300,
    warmup_s: float = 30.0,
    **kwargs,
) -> list[Region]:
    """`speech_regions` over a long signal read in blocks: `read(start_s, end_s)` -> 16 kHz mono.

    A signal that fits one block is handled in one call (same result as `speech_regions`).
    Silero's recurrent state needs context: each later block is read with `warmup_s` of the
    audio before it (a fresh state at a block start lost up to 15% of a channel's speech),
    and regions that meet or overlap at a boundary are joined.
    """
    from qa import audio as audio_mod

    step = block_s or audio_mod.CHUNK_S
    out: list[Region] = []
    t = 0.0
    while t < duration_s - 1e-6:
        end = min(duration_s, t + step)
        lead = max(0.0, t - warmup_s)
        for r in speech_regions(read(lead, end), min_silence_ms=min_silence_ms, **kwargs):
            r = Region(round(r.start + lead, 3), round(r.end + lead, 3))
            if r.end <= t:
                continue  # warm-up context: the previous block already decided this part
            gap = min_silence_ms / 1000
            at_boundary = r.start <= t + gap and out and out[-1].end >= t - gap
            if at_boundary and r.start <= out[-1].end + gap:  # one turn cut by the block boundary
                out[-1] = Region(out[-1].start, max(out[-1].end, r.end))
            else:
                out.append(Region(max(r.start, t), r.end))
        t = end
    return out


def plan_chunks(
    regions: list[Region], duration_s: float, max_chunk_s: float, min_gap_s: float = 0.3
) -> list[tuple[float, float]]:
    """Cut [0, duration) into spans of at most `max_chunk_s`, each cut in the middle of a silence.

    Within the last half of each span's allowance the longest gap between speech regions is
    chosen (a longer pause is a safer place to cut a sentence). With no gap of `min_gap_s`
    there (continuous speech), the cut falls at the allowance.
    """
    if duration_s <= max_chunk_s:
        return [(0.0, duration_s)]
    regions = sorted(regions, key=lambda r: r.start)
    gaps = [
        (a.end, b.start) for a, b in zip(regions, regions[1:]) if b.start - a.end >= min_gap_s
    ]
    spans: list[tuple[float, float]] = []
    start = 0.0
    while duration_s - start > max_chunk_s:
        limit = start + max_chunk_s
        lo = start + max_chunk_s / 2
        inside = [(e - s, (s + e) / 2) for s, e in gaps if lo < (s + e) / 2 <= limit]
        cut = max(inside)[1] if inside else limit
        spans.append((start, round(cut, 3)))
        start = round(cut, 3)
    spans.append((start, duration_s))
    return spans
