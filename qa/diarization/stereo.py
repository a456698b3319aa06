"""Stereo diarization: each party is on its own channel, so activity per channel is the answer.

A frame is active on a channel when the channel carries speech and not merely the other
side's echo (its level, relative to its own speech level, is more than `echo_margin_db`
below the other channel's). Speech is what Silero VAD hears, or what is loud on the channel
by its own standards: within `ENERGY_BELOW_SPEECH_DB` of its loud speech and
`ENERGY_ABOVE_FLOOR_DB` above its noise floor, for at least 0.2 s and, where VAD heard nothing,
at most 3 s (longer is hold music, a tone or noise, not a missed answer). Silero alone missed short
answers and back-channels ("Sure.", "Oh, okay.", "Bye."): on AWS call 49's caller channel it
kept 66 s of the 99 s of speech, and whisper found words in the 28 s it left out. A channel
that carries nothing but the other side's echo (one party silent all call) cannot be told from
speech by level, with or without the second opinion: it is marked active, as Silero would. Cost
~0.005x real time. Levels and VAD are computed block by block (`diarize_stereo_audio`), so a
long call is never held whole.
"""

from __future__ import annotations

import numpy as np

from qa.diarization import Diarization, Turn, drop_short, fill_gaps, frames_to_turns
from qa.vad import speech_regions, speech_regions_blocks

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


def _mask_from_regions(regions, n: int, hop_s: float) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for r in regions:
        mask[int(r.start / hop_s) : int(np.ceil(r.end / hop_s))] = True
    return mask


ENERGY_BELOW_SPEECH_DB = 20.0  # louder than this below the channel's loud speech ...
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


def speech_level(level: np.ndarray, vad: np.ndarray) -> float:
    """A signal's loud speech level (dBFS): the 90th percentile of its VAD frames, or its 99th overall."""
    return float(np.percentile(level[vad], 90) if vad.sum() > 50 else np.percentile(level, 99))


def with_short_loud_runs(regions: list, level: np.ndarray) -> list:
    """VAD `regions` plus the short loud runs VAD missed (`energetic`), as regions in time order."""
    from qa.vad import Region

    n = len(level)
    vad = _mask_from_regions(regions, n, HOP_S)
    mask = vad | energetic(level, speech_level(level, vad), vad)
    return [Region(t.start, t.end) for t in frames_to_turns(mask, HOP_S, "")]


def activity_from(levels: list[np.ndarray], regions: list[list], echo_margin_db: float = 15.0) -> list[np.ndarray]:
    """Boolean activity per channel on a 10 ms grid from frame levels (dBFS) and VAD regions."""
    n = min(len(lv) for lv in levels)
    levels = [lv[:n] for lv in levels]
    vad = [_mask_from_regions(r, n, HOP_S) for r in regions]
    # level relative to the channel's own loud speech, so unequal gains do not matter
    rel, speech = [], []
    for lv, m in zip(levels, vad):
        ref = speech_level(lv, m)
        rel.append(lv - ref)
        speech.append(m | energetic(lv, ref, m))
    masks = []
    for i in range(2):
        other = 1 - i
        # smooth levels over ~150 ms so syllable gaps do not flip the echo test
        k = np.ones(15) / 15
        mine = np.convolve(rel[i], k, mode="same")
        theirs = np.convolve(rel[other], k, mode="same")
        echo = speech[other] & (mine < theirs - echo_margin_db)
        active = speech[i] & ~echo
        active = drop_short(fill_gaps(active, 20), 15)
        masks.append(active)
    return masks


def channel_activity(channels: np.ndarray, sr: int, echo_margin_db: float = 15.0) -> list[np.ndarray]:
    """Boolean activity per channel on a 10 ms grid (whole arrays in memory)."""
    levels = [frame_db(ch, sr) for ch in channels]
    return activity_from(levels, [speech_regions(ch) for ch in channels], echo_margin_db)


def _turns(masks: list[np.ndarray]) -> Diarization:
    turns: list[Turn] = []
    for i, m in enumerate(masks):
        turns.extend(frames_to_turns(m, HOP_S, f"ch{i}"))
    turns.sort(key=lambda t: (t.start, t.speaker))
    return Diarization(turns, "stereo-channels", ["ch0", "ch1"])


def diarize_stereo(channels: np.ndarray, sr: int) -> Diarization:
    return _turns(channel_activity(channels, sr))


def diarize_stereo_audio(audio, chunk_s: float | None = None) -> Diarization:
    """`diarize_stereo` for a `qa.audio.Audio`, reading it in blocks of `chunk_s` (default `CHUNK_S`)."""
    from qa import audio as audio_mod

    step = chunk_s or audio_mod.CHUNK_S
    sr, n = audio.sample_rate, audio.n_samples
    levels = frame_db_blocks(lambda a, b: audio.read(a / sr, b / sr), n, sr, step)
    regions = [
        speech_regions_blocks(lambda a, b, i=i: audio.read(a, b)[i], audio.duration_s, step) for i in range(2)
    ]
    return _turns(activity_from(list(levels), regions))
