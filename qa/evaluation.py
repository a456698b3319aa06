"""Accuracy measures against ground truth: DER, role attribution, WER/CER.

Diarization error uses pyannote.metrics; WER/CER use jiwer on text normalised with the
same Turkish-aware rules as matching. Reference speech activity for two-track recordings
(agent and caller on separate files) comes from VAD on each clean track.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.diarization import Turn
from qa.text import normalize
from qa.vad import speech_regions

FRAME_S = 0.01


def track_activity(samples: np.ndarray, label: str) -> list[Turn]:
    """Reference turns of one clean track (16 kHz mono) from VAD."""
    return [Turn(round(r.start, 3), round(r.end, 3), label) for r in speech_regions(samples)]


def mix_tracks(agent_path: Path, caller_path: Path, out: Path, layout: str) -> Path:
    """Write a two-track recording (agent, caller) as one stereo (agent left) or mono file."""
    import soundfile as sf

    agent, sr = sf.read(agent_path, dtype="float32")
    caller, _ = sf.read(caller_path, dtype="float32")
    n = min(len(agent), len(caller))
    data = np.stack([agent[:n], caller[:n]], axis=1) if layout == "stereo" else (agent[:n] + caller[:n]) / 2
    sf.write(out, data, sr, subtype="PCM_16")
    return out


def two_track_reference(agent_path: Path, caller_path: Path) -> tuple[list[Turn], float]:
    """Reference role turns from each clean track's own speech, and the shorter track's length."""
    from qa.audio import load_audio

    agent, caller = load_audio(agent_path), load_audio(caller_path)
    turns = track_activity(agent.mono(), "agent") + track_activity(caller.mono(), "customer")
    return turns, min(agent.duration_s, caller.duration_s)


def to_annotation(turns: list[Turn]):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for i, t in enumerate(turns):
        if t.end > t.start:
            ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def der(reference: list[Turn], hypothesis: list[Turn], collar: float = 0.0) -> dict[str, float]:
    """Diarization error rate and its parts (optimal speaker mapping, overlap scored)."""
    import warnings

    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "uem was approximated": we score the union, as intended
        parts = metric(to_annotation(reference), to_annotation(hypothesis), detailed=True)
    total = parts["total"] or 1.0
    return {
        "der": round(parts["diarization error rate"], 4),
        "missed": round(parts["missed detection"] / total, 4),
        "false_alarm": round(parts["false alarm"] / total, 4),
        "confusion": round(parts["confusion"] / total, 4),
        "speech_s": round(total, 2),
    }


def _frames(turns: list[Turn], n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for t in turns:
        mask = out.setdefault(t.speaker, np.zeros(n, dtype=bool))
        mask[int(t.start / FRAME_S) : int(np.ceil(t.end / FRAME_S))] = True
    return out


def role_accuracy(reference: list[Turn], hypothesis: list[Turn], duration_s: float) -> dict[str, float]:
    """Share of single-speaker reference speech whose hypothesised role is right.

    Turns carry role labels ("agent"/"customer"). Overlapped reference speech is left out
    (either answer is defensible). `role_accuracy` counts reference speech with no
    hypothesis as wrong; `attribution_accuracy` scores only the speech that was detected
    (references built from script turns include the pauses inside a turn), and `coverage`
    says how much of the reference was detected at all.
    """
    n = int(np.ceil(duration_s / FRAME_S)) + 1
    ref = _frames(reference, n)
    hyp = _frames(hypothesis, n)
    roles = ("agent", "customer")
    zero = np.zeros(n, dtype=bool)
    r_agent, r_cust = ref.get("agent", zero), ref.get("customer", zero)
    h_agent, h_cust = hyp.get("agent", zero), hyp.get("customer", zero)
    single = r_agent ^ r_cust
    correct = (single & r_agent & h_agent & ~h_cust) | (single & r_cust & h_cust & ~h_agent)
    total = single.sum()
    covered = single & (h_agent | h_cust)
    out = {"role_accuracy": round(float(correct.sum() / total), 4) if total else float("nan"),
           # among reference speech the hypothesis did detect: was the role right?
           "attribution_accuracy": round(float(correct.sum() / covered.sum()), 4) if covered.sum() else float("nan"),
           "coverage": round(float(covered.sum() / total), 4) if total else float("nan"),
           "scored_speech_s": round(float(total * FRAME_S), 2)}
    for role, r in zip(roles, (r_agent, r_cust)):
        part = single & r
        ok = correct & part
        out[f"{role}_recall"] = round(float(ok.sum() / part.sum()), 4) if part.sum() else float("nan")
    return out


@dataclass
class TextScore:
    wer: float
    cer: float
    ref_words: int


def text_error(reference: str, hypothesis: str, language: str) -> TextScore:
    """WER/CER after Turkish-aware normalisation (case, I/İ, punctuation, NFC)."""
    import jiwer

    ref = normalize(reference, language)
    hyp = normalize(hypothesis, language)
    if not ref:
        return TextScore(float("nan"), float("nan"), 0)
    return TextScore(round(jiwer.wer(ref, hyp), 4), round(jiwer.cer(ref, hyp), 4), len(ref.split()))


def role_turns(result) -> list[Turn]:
    """Hypothesis role timeline of a processed call: its speech turns labelled with roles."""
    return [Turn(s, e, role) for _, role, s, e in result.activity if role in ("agent", "customer")]


def read_rttm(path) -> list[Turn]:
    turns = []
    for line in open(path, encoding="utf-8"):
        p = line.split()
        if len(p) >= 8 and p[0] == "SPEAKER":
            start, dur = float(p[3]), float(p[4])
            turns.append(Turn(start, round(start + dur, 3), p[7]))
    return turns


def read_stm(path) -> list[tuple[str, float, float, str]]:
    """(speaker, start, end, text) rows of an STM file."""
    rows = []
    for line in open(path, encoding="utf-8"):
        p = line.strip().split(maxsplit=5)
        if len(p) >= 6 and not line.startswith(";;"):
            rows.append((p[2], float(p[3]), float(p[4]), p[5]))
    return rows
