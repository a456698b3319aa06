"""Stereo diarization: each party is on its own channel, so activity per channel is the answer.

A frame is active on a channel when the channel carries speech and not merely the other
side's echo (its level, relative to its own speech level, is more than `echo_margin_db`
below the other channel's). Speech is what Silero VAD hears, plus the short loud runs it
missed (`qa.diarization.levels.energetic`). A channel that carries nothing but the other
side's echo (one party silent all call) cannot be told from speech by level, with or without
the second opinion: it is marked active, as Silero would. Cost ~0.005x real time. Levels and
VAD are computed block by block (`diarize_stereo_audio`), so a long call is never held whole.
"""

from __future__ import annotations

import numpy as np

from qa.diarization import Diarization, Turn, drop_short, fill_gaps, frames_to_turns
from qa.diarization.levels import (
    HOP_S, energetic, extend_edges, frame_db, frame_db_blocks, mask_from_regions, speech_level,
)
from qa.vad import speech_regions, speech_regions_blocks


def activity_from(levels: list[np.ndarray], regions: list[list], echo_margin_db: float = 15.0) -> list[np.ndarray]:
    """Boolean activity per channel on a 10 ms grid from frame levels (dBFS) and VAD regions."""
    n = min(len(lv) for lv in levels)
    levels = [lv[:n] for lv in levels]
    vad = [mask_from_regions(r, n, HOP_S) for r in regions]
    # level relative to the channel's own loud speech, so unequal gains do not matter
    rel, speech = [], []
    for lv, m in zip(levels, vad):
        ref = speech_level(lv, m)
        rel.append(lv - ref)
        speech.append(extend_edges(m | energetic(lv, ref, m), lv, ref))
    masks = []
    for i in range(2):
        other = 1 - i
        # smooth levels over ~150 ms so syllable gaps do not flip the echo test
        k = np.ones(15) / 15
        mine = np.convolve(rel[i], k, mode="same")
        theirs = np.convolve(rel[other], k, mode="same")
        echo = speech[other] & (mine < theirs - echo_margin_db)
        active = speech[i] & ~echo
        active = drop_short(fill_gaps(active, 30), 15)  # pauses under 0.3 s stay inside the turn
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
