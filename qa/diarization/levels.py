"""Frame levels and the energy second opinion beside VAD, shared by the stereo and mono backends.

`frame_db` gives RMS levels (dBFS) on a 10 ms grid (block by block for long calls:
`frame_db_blocks`). Silero VAD misses short answers and back-channels ("Sure.", "Oh, okay.",
"Bye."): on AWS call 49's caller channel it kept 66 s of the 99 s of speech, and whisper found
words in the 28 s it left out. `energetic` adds the frames that are loud by the signal's own
standards (within `ENERGY_BELOW_SPEECH_DB` of its loud speech and `ENERGY_ABOVE_FLOOR_DB` above
its noise floor) for 0.2-3 s where VAD heard nothing; longer runs are hold music, a tone or
noise, not a missed answer.
"""

from __future__ import annotations

import numpy as np

from qa.diarization import drop_short, fill_gaps, frames_to_turns

HOP_S = 0.01
WIN_S = 0.03


def frame_db(x: np.ndarray, sr: int, hop_s: float = HOP_S, win_s: float = WIN_S) -> np.ndarray:
    """RMS level in dBFS of frames centred every `hop_s` seconds."""
    hop, win = int(sr * hop_s), int(sr * win_s)
    n = max(1, int(np.ceil(len(x) / hop)))
    padded = np.pad(x.astype(np.float64), (win // 2, win))
    sq = np.concatenate([[0.0], np.cumsum(padded**2)])
    starts = np.arange(n) * hop
    energy = (sq[starts + win] - sq[starts]) / win
    return 10 * np.log10(energy + 1e-12)


def frame_db_blocks(read, n_samples: int, sr: int, block_s: float, hop_s: float = HOP_S, win_s: float = WIN_S):
    """`frame_db` of each channel, computed block by block: `read(a, b)` -> (n_channels, b - a) samples.

    Gives the same frames as `frame_db` on the whole signal (each block is read with the
    context its edge frames need), with memory bounded by the block length.
    """
    hop, win = int(sr * hop_s), int(sr * win_s)
    n = max(1, int(np.ceil(n_samples / hop)))
    per_block = max(1, int(block_s * sr) // hop)
    out = []
    for f0 in range(0, n, per_block):
        f1 = min(n, f0 + per_block)
        a = f0 * hop - win // 2
        b = (f1 - 1) * hop - win // 2 + win
        seg = read(max(0, a), min(n_samples, b)).astype(np.float64)
        seg = np.pad(seg, ((0, 0), (max(0, -a), b - a - seg.shape[1] - max(0, -a))))
        sq = np.concatenate([np.zeros((seg.shape[0], 1)), np.cumsum(seg**2, axis=1)], axis=1)
        starts = np.arange(f1 - f0) * hop
        out.append(10 * np.log10((sq[:, starts + win] - sq[:, starts]) / win + 1e-12))
    return np.concatenate(out, axis=1)


def mask_from_regions(regions, n: int, hop_s: float) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for r in regions:
        mask[int(r.start / hop_s) : int(np.ceil(r.end / hop_s))] = True
    return mask


ENERGY_BELOW_SPEECH_DB = 25.0  # louder than this below the channel's loud speech ...
ENERGY_ABOVE_FLOOR_DB = 15.0  # ... and this far above its noise floor counts as speech
ENERGY_MIN_FRAMES = 20  # for at least 0.2 s (after bridging 0.3 s gaps): no clicks or breaths
ENERGY_ONLY_MAX_FRAMES = 300  # loud without VAD for longer than 3 s: hold music, a tone, noise (a hold is >= 5 s)


def energetic(level: np.ndarray, speech_db: float, vad: np.ndarray) -> np.ndarray:
    """Frames loud by the signal's own standards that VAD did not call speech: a second opinion
    for short answers (also used on mono mixes). Long runs of them are not speech Silero missed
    but music or noise."""
    floor = np.percentile(level, 5)
    loud = (level > speech_db - ENERGY_BELOW_SPEECH_DB) & (level > floor + ENERGY_ABOVE_FLOOR_DB)
    extra = drop_short(fill_gaps(loud, 30), ENERGY_MIN_FRAMES) & ~vad
    return extra & ~drop_short(extra, ENERGY_ONLY_MAX_FRAMES + 1)


EDGE_BELOW_SPEECH_DB = 35.0  # a turn's edge extends over frames within this of the loud speech ...
EDGE_ABOVE_FLOOR_DB = 12.0  # ... and this far above the noise floor
EDGE_MAX_FRAMES = 40  # ... by at most 0.4 s each side


def extend_edges(mask: np.ndarray, level: np.ndarray, speech_db: float, max_frames: int = EDGE_MAX_FRAMES) -> np.ndarray:
    """Grow each run of `mask` outward over adjacent frames that are still speech-loud (hysteresis:
    a run starts on VAD's word, its soft onset and trailing syllable are kept by level). Silero's
    regions start late and end early on soft syllables: 1.4-3.6 s of each AWS track's speech lay just
    outside them."""
    floor = np.percentile(level, 5)
    soft = (level > speech_db - EDGE_BELOW_SPEECH_DB) & (level > floor + EDGE_ABOVE_FLOOR_DB)
    out = mask.copy()
    n = len(mask)
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    for s, e in zip(edges[::2], edges[1::2]):
        i = s - 1
        while i >= 0 and s - i <= max_frames and soft[i] and not mask[i]:
            out[i] = True
            i -= 1
        i = e
        while i < n and i - e < max_frames and soft[i] and not mask[i]:
            out[i] = True
            i += 1
    return out


def speech_level(level: np.ndarray, vad: np.ndarray) -> float:
    """A signal's loud speech level (dBFS): the 90th percentile of its VAD frames, or its 99th overall."""
    return float(np.percentile(level[vad], 90) if vad.sum() > 50 else np.percentile(level, 99))


def with_short_loud_runs(regions: list, level: np.ndarray) -> list:
    """VAD `regions` plus the short loud runs VAD missed (`energetic`), their edges grown over soft
    speech (`extend_edges`), as regions in time order."""
    from qa.vad import Region

    n = len(level)
    vad = mask_from_regions(regions, n, HOP_S)
    speech_db = speech_level(level, vad)
    mask = extend_edges(vad | energetic(level, speech_db, vad), level, speech_db)
    return [Region(t.start, t.end) for t in frames_to_turns(mask, HOP_S, "")]
