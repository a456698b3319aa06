"""Mono diarization: VAD -> 1.6 s windows every 0.4 s -> d-vectors -> spectral clustering -> frame vote.

Speaker embeddings come from Resemblyzer's GE2E voice encoder (weights ship in its
wheel). Calls have two parties, so the number of speakers is fixed (2 by default):
automatic speaker counting found one speaker on a two-male-voice call. Clustering uses
scikit-learn's SpectralClustering on a pruned cosine affinity (the refinement used for
d-vector diarization); average-linkage agglomerative clustering failed on one file.
"""

from __future__ import annotations

import threading

import numpy as np

from qa.diarization import Diarization, Turn, drop_short, fill_gaps, frames_to_turns
from qa.vad import speech_regions

WINDOW_S = 1.6
STEP_S = 0.4
HOP_S = 0.01
_ENCODER = None
_LOCK = threading.Lock()


def _encoder():
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            from resemblyzer import VoiceEncoder

            _ENCODER = VoiceEncoder("cpu", verbose=False)
        return _ENCODER


def window_starts(regions, duration: float) -> list[float]:
    """Window start times covering every speech region (short regions get one centred window)."""
    starts: list[float] = []
    for r in regions:
        if r.duration <= WINDOW_S:
            s = min(max(0.0, (r.start + r.end - WINDOW_S) / 2), max(0.0, duration - WINDOW_S))
            starts.append(s)
            continue
        t = r.start
        while t + WINDOW_S <= r.end + 1e-6:
            starts.append(t)
            t += STEP_S
        if starts[-1] + WINDOW_S < r.end - 0.1:
            starts.append(r.end - WINDOW_S)
    return starts


def embed_windows(samples: np.ndarray, sr: int, starts: list[float], batch: int = 64) -> np.ndarray:
    """L2-normalised d-vectors, one per window."""
    import torch
    from resemblyzer.audio import normalize_volume, wav_to_mel_spectrogram

    wav = normalize_volume(samples.astype(np.float32), -30, increase_only=False)
    mel = wav_to_mel_spectrogram(wav)  # (frames, 40), 10 ms hop
    n_frames = int(WINDOW_S / HOP_S)
    mels = []
    for s in starts:
        i = int(round(s / HOP_S))
        chunk = mel[i : i + n_frames]
        if len(chunk) < n_frames:
            chunk = np.pad(chunk, ((0, n_frames - len(chunk)), (0, 0)))
        mels.append(chunk)
    enc = _encoder()
    out = []
    with torch.inference_mode():
        for b in range(0, len(mels), batch):
            x = torch.from_numpy(np.stack(mels[b : b + batch]).astype(np.float32))
            out.append(enc(x).numpy())
    emb = np.concatenate(out) if out else np.zeros((0, 256), np.float32)
    return emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-9)


def refined_affinity(emb: np.ndarray, keep: float = 0.3) -> np.ndarray:
    """Cosine affinity, keeping each row's strongest `keep` share, symmetrised."""
    sim = np.clip(emb @ emb.T, 0.0, 1.0)
    n = len(sim)
    k = max(2, int(np.ceil(keep * n)))
    pruned = np.zeros_like(sim)
    idx = np.argsort(-sim, axis=1)[:, :k]
    rows = np.arange(n)[:, None]
    pruned[rows, idx] = sim[rows, idx]
    return np.maximum(pruned, pruned.T)


def cluster(emb: np.ndarray, n_speakers: int) -> np.ndarray:
    """Cluster labels per window; relabelled so speaker 0 is the first to speak."""
    if len(emb) < n_speakers * 2:
        return np.zeros(len(emb), dtype=int)
    from sklearn.cluster import SpectralClustering

    aff = refined_affinity(emb)
    labels = SpectralClustering(
        n_clusters=n_speakers, affinity="precomputed", random_state=0, assign_labels="cluster_qr"
    ).fit_predict(aff)
    order = {lab: i for i, lab in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[lab] for lab in labels], dtype=int)


def diarize_mono(samples: np.ndarray, sr: int, n_speakers: int = 2) -> Diarization:
    duration = len(samples) / sr
    regions = speech_regions(samples)
    speakers = [f"S{i}" for i in range(n_speakers)]
    if not regions:
        return Diarization([], "embedding-spectral", speakers)
    starts = window_starts(regions, duration)
    emb = embed_windows(samples, sr, starts)
    labels = cluster(emb, n_speakers)
    n = int(np.ceil(duration / HOP_S))
    votes = np.zeros((n_speakers, n), dtype=np.float32)
    win = int(WINDOW_S / HOP_S)
    centre = np.hanning(win + 2)[1:-1]  # trust a window most near its centre
    for s, lab in zip(starts, labels):
        i = int(round(s / HOP_S))
        seg = votes[lab, i : i + win]
        seg += centre[: len(seg)]
    speech = np.zeros(n, dtype=bool)
    for r in regions:
        speech[int(r.start / HOP_S) : int(np.ceil(r.end / HOP_S))] = True
    best = votes.argmax(axis=0)
    turns: list[Turn] = []
    for k in range(n_speakers):
        mask = speech & (best == k) & (votes.max(axis=0) > 0)
        mask = drop_short(fill_gaps(mask, 10), 10)
        turns.extend(frames_to_turns(mask, HOP_S, speakers[k]))
    turns.sort(key=lambda t: t.start)
    return Diarization(turns, "embedding-spectral", speakers)
