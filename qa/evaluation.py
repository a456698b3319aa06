"""Accuracy measures against ground truth: DER, role attribution, WER/CER.

Diarization error uses pyannote.metrics; WER/CER use jiwer on text normalised with the
same Turkish-aware rules as matching. Reference speech activity for two-track recordings
(agent and caller on separate files) comes from the energy of each clean track, never from
the pipeline's own VAD (whose misses would then go uncounted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.diarization import Turn
from qa.pii import TOKEN
from qa.text import normalize

FRAME_S = 0.01
_APOSTROPHES = re.compile(r"['’‘`´]")


SPEECH_BELOW_PEAK_DB = 35.0  # a frame this far below the track's loud speech (95th percentile) is silence
ABOVE_FLOOR_DB = 12.0  # ... and so is one within this of its noise floor (5th percentile)


def energy_activity(samples: np.ndarray, label: str, sr: int = 16000) -> list[Turn]:
    """Reference speech turns of one CLEAN, isolated track (one party only, no echo) from its energy.

    The pipeline's VAD cannot be the reference: what it misses would be missed by both sides
    and never counted (Silero kept 66 s of the 99 s that AWS call 49's caller speaks by this measure).
    On a clean track, level separates speech from silence by 50 dB or more, so 10 ms frames
    above max(loud speech - 35 dB, noise floor + 12 dB) are speech; pauses under 0.3 s inside a
    turn are bridged (the pipeline's turn rule) and blips under 0.1 s dropped.
    """
    from qa.diarization import drop_short, fill_gaps, frames_to_turns
    from qa.diarization.levels import HOP_S, frame_db

    db = frame_db(samples, sr)
    audible = db[db > -100.0]
    if audible.size == 0:
        return []
    threshold = max(np.percentile(audible, 95) - SPEECH_BELOW_PEAK_DB, np.percentile(db, 5) + ABOVE_FLOOR_DB)
    active = drop_short(fill_gaps(db > threshold, int(0.3 / HOP_S)), int(0.1 / HOP_S))
    return [Turn(round(t.start, 3), round(t.end, 3), label) for t in frames_to_turns(active, HOP_S, label)]


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
    """Reference role turns from each clean track's own speech (energy), and the shorter track's length."""
    from qa.audio import load_audio

    agent, caller = load_audio(agent_path), load_audio(caller_path)
    turns = energy_activity(agent.mono(), "agent") + energy_activity(caller.mono(), "customer")
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
    """WER/CER after Turkish-aware normalisation (case, I/İ, punctuation, NFC).

    Apostrophes are dropped, not spaced: whisper writes "Telekom'u" or "Telekomu" at will, and
    one word either way must not count as two errors.
    """
    import jiwer

    ref = normalize(_APOSTROPHES.sub("", reference), language)
    hyp = normalize(_APOSTROPHES.sub("", hypothesis), language)
    if not ref:
        return TextScore(float("nan"), float("nan"), 0)
    return TextScore(round(jiwer.wer(ref, hyp), 4), round(jiwer.cer(ref, hyp), 4), len(ref.split()))


@dataclass(frozen=True)
class LostSegment:
    """A segment bare faster-whisper transcribed for which the pipeline kept too few words."""

    start: float
    end: float
    bare_words: int
    pipeline_words: int
    channel: int | None = None


REDACTION_TOKENS = frozenset(TOKEN.values()) | {"[PII]"}


def lost_segments(
    bare: list[tuple[float, float, str]],
    words: list,
    min_words: int = 3,
    tolerance_s: float = 0.5,
    channel: int | None = None,
) -> list[LostSegment]:
    """Bare segments `(start, end, text)` of `min_words`+ words for which the pipeline has fewer than
    half as many words (`qa.asr.Word`s whose midpoint lies in the segment, `tolerance_s` either side:
    word times of two decodings differ a little). A redaction token ("[CARD]") stands for the words
    it replaced: it counts as one word per second it covers, at least one."""
    out = []
    for start, end, text in bare:
        n_bare = len(text.split())
        if n_bare < min_words:
            continue
        inside = [w for w in words if start - tolerance_s <= (w.start + w.end) / 2 <= end + tolerance_s]
        n = sum(max(1, round(w.end - w.start)) if w.text in REDACTION_TOKENS else 1 for w in inside)
        if n < n_bare / 2:
            out.append(LostSegment(round(start, 2), round(end, 2), n_bare, n, channel))
    return out


def role_parts(reference: list[Turn], hypothesis: list[Turn], duration_s: float) -> dict[str, float]:
    """Where single-speaker reference speech went: `right` role, `missed` (no role), `swapped` (the
    other role only), `both` (both roles claimed); plus `false_alarm_s`, seconds of a role claimed
    where the reference has nobody speaking. Shares add up to 1."""
    n = int(np.ceil(duration_s / FRAME_S)) + 1
    ref, hyp = _frames(reference, n), _frames(hypothesis, n)
    zero = np.zeros(n, dtype=bool)
    ra, rc = ref.get("agent", zero), ref.get("customer", zero)
    ha, hc = hyp.get("agent", zero), hyp.get("customer", zero)
    single = ra ^ rc
    total = single.sum()
    if not total:
        return {"right": float("nan"), "missed": float("nan"), "swapped": float("nan"), "both": float("nan"),
                "false_alarm_s": round(float((~ra & ~rc & (ha | hc)).sum() * FRAME_S), 2)}
    share = lambda m: round(float(m.sum() / total), 4)  # noqa: E731
    return {
        "right": share((single & ra & ha & ~hc) | (single & rc & hc & ~ha)),
        "missed": share(single & ~ha & ~hc),
        "swapped": share((single & ra & hc & ~ha) | (single & rc & ha & ~hc)),
        "both": share(single & ha & hc),
        "false_alarm_s": round(float((~ra & ~rc & (ha | hc)).sum() * FRAME_S), 2),
    }


def clip_turns(turns: list[Turn], until_s: float) -> list[Turn]:
    """The part of `turns` before `until_s`."""
    return [Turn(t.start, min(t.end, until_s), t.speaker) for t in turns if t.start < until_s]


def name_hits(reference: str, hypothesis: str, names: list[str], language: str) -> tuple[int, int]:
    """(name words said in `reference`, of those heard in `hypothesis`): every word of 3+ letters of
    each name in `names`, counted per occurrence; a word with a suffix ("Telekom'a") counts."""
    def tokens(text: str) -> list[str]:
        return normalize(_APOSTROPHES.sub("", text), language).split()

    wanted = {t for n in names for t in tokens(n) if len(t) >= 3}
    ref, hyp = tokens(reference), tokens(hypothesis)
    said = heard = 0
    for name in wanted:
        n_ref = sum(t.startswith(name) for t in ref)
        said += n_ref
        heard += min(n_ref, sum(t.startswith(name) for t in hyp))
    return said, heard


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
