"""Who spoke when: speaker turns from stereo channels, mono speaker embeddings or pyannote.

`diarize()` picks the backend: a two-channel recording is split by per-channel activity
(each party on its own channel); a mono recording goes to speaker-embedding clustering,
or to a pyannote.audio pipeline when the user supplies one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str  # "ch0"/"ch1" for stereo, "S0"/"S1"... for mono

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Diarization:
    turns: list[Turn]
    method: str
    speakers: list[str] = field(default_factory=list)

    def speech_time(self, speaker: str) -> float:
        return sum(t.duration for t in self.turns if t.speaker == speaker)

    def speaker_at(self, start: float, end: float, tolerance: float = 0.5) -> str | None:
        """The speaker overlapping [start, end] most; else the nearest turn within `tolerance` s."""
        best, best_overlap = None, 0.0
        for t in self.turns:
            overlap = min(end, t.end) - max(start, t.start)
            if overlap > best_overlap:
                best, best_overlap = t.speaker, overlap
        if best is not None:
            return best
        mid = (start + end) / 2
        nearest, dist = None, tolerance
        for t in self.turns:
            d = max(t.start - mid, mid - t.end, 0.0)
            if d <= dist:
                nearest, dist = t.speaker, d
        return nearest


def frames_to_turns(active: np.ndarray, hop_s: float, speaker: str, offset: float = 0.0) -> list[Turn]:
    """Turn a boolean frame mask into turns."""
    turns: list[Turn] = []
    if active.size == 0:
        return turns
    padded = np.concatenate([[False], active.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    for s, e in zip(edges[::2], edges[1::2]):
        turns.append(Turn(round(offset + s * hop_s, 3), round(offset + e * hop_s, 3), speaker))
    return turns


def fill_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Close runs of False shorter than `max_gap` frames that lie between True frames."""
    out = mask.copy()
    idx = np.flatnonzero(mask)
    if idx.size < 2:
        return out
    gaps = np.diff(idx)
    for i in np.flatnonzero((gaps > 1) & (gaps <= max_gap + 1)):
        out[idx[i] : idx[i + 1]] = True
    return out


def drop_short(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Remove runs of True shorter than `min_len` frames."""
    out = mask.copy()
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    for s, e in zip(edges[::2], edges[1::2]):
        if e - s < min_len:
            out[s:e] = False
    return out


def diarize(
    audio,
    backend: str = "auto",
    num_speakers: int = 2,
    pyannote_pipeline: str | None = None,
    chunk_s: float | None = None,
) -> Diarization:
    """Speaker turns for `audio` (a `qa.audio.Audio`), read in blocks of `chunk_s` (default `qa.audio.CHUNK_S`)."""
    if audio.n_channels == 2 and backend in ("auto", "embedding"):
        from qa.diarization.stereo import diarize_stereo_audio

        return diarize_stereo_audio(audio, chunk_s)
    if backend == "pyannote" or (backend == "auto" and pyannote_pipeline):
        if not pyannote_pipeline:
            raise ValueError("diarization backend 'pyannote' needs `pyannote_pipeline` (a local directory or hub id)")
        from qa.diarization.pyannote_backend import diarize_pyannote

        # pyannote takes the whole waveform: a long call costs its full array here
        return diarize_pyannote(audio.mono(), audio.sample_rate, pyannote_pipeline, num_speakers)
    from qa.diarization.embedding import diarize_mono_audio

    return diarize_mono_audio(audio, num_speakers, chunk_s)
