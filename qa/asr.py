"""Speech-to-text with faster-whisper, with guards against hallucination on silence.

Whisper invents text on silence and music ("Altyazı M.K.", "Thank you for watching")
and can loop on one n-gram. We use VAD, `condition_on_previous_text=False`, the
compression-ratio / log-prob / no-speech thresholds and `hallucination_silence_threshold`,
then drop known credit phrases and collapse repetition loops in the words we keep.
The VAD gate is ours (`qa.vad.speech_regions`, level-normalised, a lower threshold than
for turn boundaries because whisper's own no-speech test follows); the speech is joined and
times mapped back with faster-whisper's own `collect_chunks` / `restore_speech_timestamps`.
Long calls are transcribed in chunks cut at silences (`transcribe_spans`), so whisper never
holds a whole long call's audio and features.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import numpy as np

from qa.audio import SAMPLE_RATE
from qa.text import normalize

# Whole-segment texts whisper produces from silence/music (normalised, regex full match).
_HALLUCINATIONS = [
    r"altyazı.*",
    r"(abone ol.*|beğen.* abone.*|izlediğiniz için teşekkür.*|izlediğiniz için.*)",
    r"(thank you for watching.*|thanks for watching.*|subtitles by.*|subtitled by.*|amara org.*)",
    r"(please subscribe.*|like and subscribe.*|transcribed by.*)",
    r"(m k|mk)",
]
_HALLUCINATION_RE = re.compile("|".join(f"(?:{p})" for p in _HALLUCINATIONS))
LOOP_MIN_REPEATS = 5  # "bir bir bir bir" (a card number) is real; five or more in a row is a loop
LOOP_KEEP = 2


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float
    channel: int | None = None

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


@dataclass
class Transcript:
    words: list[Word]
    language: str
    language_probability: float
    dropped: dict[str, int] = field(default_factory=dict)  # guard name -> words removed

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class AsrOptions:
    beam_size: int = 5
    vad_min_silence_ms: int = 1000
    vad_speech_pad_ms: int = 300
    vad_threshold: float = 0.35
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    hallucination_silence_threshold: float = 2.0
    initial_prompt: str | None = None
    hotwords: str | None = None
    # Greedy/beam decoding only. faster-whisper's default retries a doubtful window at rising
    # temperatures, i.e. by sampling, and CTranslate2's sampler cannot be re-seeded per call: the
    # same Turkish call then gave 189 to 266 words from run to run (WER 0.36-0.49), while
    # temperature 0 alone gave the same words every time and WER 0.33. A QA score must not change
    # when a call is processed again; loops and silence are handled by our own guards.
    temperatures: tuple[float, ...] = (0.0,)


_MODELS: dict[tuple[str, str, int], object] = {}
_LOCK = threading.Lock()


def load_model(model: str, compute_type: str = "int8", threads: int = 2):
    """A cached `WhisperModel` (one per model/compute type/threads in this process)."""
    key = (model, compute_type, threads)
    with _LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            _MODELS[key] = WhisperModel(model, device="cpu", compute_type=compute_type, cpu_threads=threads)
        return _MODELS[key]


def collapse_loops(words: list[Word], min_repeats: int = LOOP_MIN_REPEATS, keep: int = LOOP_KEEP) -> list[Word]:
    """Remove runs where one n-gram (n <= 4) repeats `min_repeats`+ times in a row, keeping `keep` copies."""
    keys = [normalize(w.text) for w in words]
    out: list[Word] = []
    i = 0
    while i < len(words):
        collapsed = False
        for n in (1, 2, 3, 4):
            gram = keys[i : i + n]
            if len(gram) < n or not any(gram):
                continue
            reps = 1
            while keys[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            if reps >= min_repeats:
                out.extend(words[i : i + keep * n])
                i += reps * n
                collapsed = True
                break
        if not collapsed:
            out.append(words[i])
            i += 1
    return out


def is_hallucination(segment_text: str) -> bool:
    norm = normalize(segment_text)
    return bool(norm) and _HALLUCINATION_RE.fullmatch(norm) is not None


def transcribe(
    model,
    samples: np.ndarray,
    language: str | None,
    options: AsrOptions = AsrOptions(),
    channel: int | None = None,
    offset: float = 0.0,
    speech: list | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono `samples`; `language=None` lets whisper detect it.

    `offset` (seconds) is added to every word time: the position of `samples` in the call.
    `speech`: regions (seconds within `samples`) known to hold speech from elsewhere, e.g. a
    stereo channel's activity. They can only ADD words: the VAD gate is decoded exactly as
    without them, and the parts of `speech` the gate left out are decoded in a second pass
    whose words are kept where the first pass has none. (Joining them into the gate changed
    how whisper's 30 s windows fell: a 1.3 s noise region ahead of a call's greeting made
    whisper skip the window and lose the opening sentence.)
    """
    from qa.vad import speech_regions

    samples = samples.astype(np.float32, copy=False)
    duration = len(samples) / SAMPLE_RATE
    regions = speech_regions(
        samples,
        min_silence_ms=options.vad_min_silence_ms,
        speech_pad_ms=options.vad_speech_pad_ms,
        threshold=options.vad_threshold,
        min_speech_ms=0,
    )
    base = _decode(model, samples, regions, language, options, channel, offset)
    extra = uncovered(speech or [], regions, duration)
    if not extra:
        return base
    from qa.vad import Region

    pad = options.vad_speech_pad_ms / 1000
    heard = _decode(model, samples, _union([], [Region(r.start - pad, r.end + pad) for r in extra], duration),
                    language or base.language or None, options, channel, offset)
    added = additions(base.words, heard.words, [(r.start + offset, r.end + offset) for r in extra])
    dropped = {k: base.dropped.get(k, 0) + heard.dropped.get(k, 0) for k in base.dropped}
    words = sorted(base.words + added, key=lambda w: (w.start, w.end))
    language_found = base.language or heard.language
    probability = base.language_probability if base.words or not heard.words else heard.language_probability
    return Transcript(words, language_found, probability, dropped)


MIN_EXTRA_S = 0.2  # a piece of `speech` the gate left out shorter than this holds no word


def uncovered(speech: list, regions: list, duration_s: float, min_s: float = MIN_EXTRA_S) -> list:
    """The parts of `speech` regions (clipped to [0, duration_s]) outside every gate region, each at
    least `min_s` long."""
    from qa.vad import Region

    gate = sorted((r.start, r.end) for r in regions)
    out: list[Region] = []
    for r in _union([], speech, duration_s):
        pieces = [(r.start, r.end)]
        for gs, ge in gate:
            pieces = [p for a, b in pieces for p in ((a, min(b, gs)), (max(a, ge), b)) if p[1] > p[0]]
        out.extend(Region(a, b) for a, b in pieces if b - a >= min_s)
    return out


def additions(base: list[Word], heard: list[Word], spans: list[tuple[float, float]], slack_s: float = 0.1) -> list[Word]:
    """Words of the second pass (`heard`) that add to `base`: their midpoint lies in one of `spans`
    (the parts the gate left out, `slack_s` either side) and no base word covers half of them."""
    out = []
    for w in heard:
        if not any(a - slack_s <= w.mid <= b + slack_s for a, b in spans):
            continue
        length = max(w.end - w.start, 1e-3)
        if any(min(w.end, b.end) - max(w.start, b.start) > length / 2 for b in base):
            continue
        out.append(w)
    return out


def _decode(
    model, samples: np.ndarray, regions: list, language: str | None, options: AsrOptions,
    channel: int | None, offset: float,
) -> Transcript:
    """Decode the audio of `regions` (joined with faster-whisper's own helpers, times mapped back)
    and apply the hallucination guards."""
    from faster_whisper.transcribe import restore_speech_timestamps
    from faster_whisper.vad import collect_chunks

    chunks = [{"start": int(r.start * SAMPLE_RATE), "end": int(r.end * SAMPLE_RATE)} for r in regions]
    dropped = {"hallucination_phrase": 0, "no_speech": 0, "repetition_loop": 0}
    if not chunks:
        return Transcript([], language or "", 0.0, dropped)
    speech = np.concatenate(collect_chunks(samples, chunks)[0])
    segments, info = model.transcribe(
        speech,
        language=language,
        beam_size=options.beam_size,
        word_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
        no_speech_threshold=options.no_speech_threshold,
        log_prob_threshold=options.log_prob_threshold,
        compression_ratio_threshold=options.compression_ratio_threshold,
        hallucination_silence_threshold=options.hallucination_silence_threshold,
        initial_prompt=options.initial_prompt,
        hotwords=options.hotwords,
        temperature=list(options.temperatures),
    )
    segments = restore_speech_timestamps(segments, chunks, SAMPLE_RATE)
    words: list[Word] = []
    for seg in segments:
        seg_words = [
            Word(float(w.start) + offset, float(w.end) + offset, w.word.strip(), float(w.probability), channel)
            for w in (seg.words or [])
            if w.word.strip()
        ]
        if is_hallucination(seg.text):
            dropped["hallucination_phrase"] += len(seg_words)
            continue
        if seg.no_speech_prob > options.no_speech_threshold and seg.avg_logprob < options.log_prob_threshold:
            dropped["no_speech"] += len(seg_words)
            continue
        words.extend(seg_words)
    kept = collapse_loops(words)
    dropped["repetition_loop"] = len(words) - len(kept)
    return Transcript(kept, info.language, float(info.language_probability), dropped)


def _union(regions: list, extra: list, duration_s: float) -> list:
    """Regions covering `regions` and `extra` (clipped to [0, duration_s]), sorted, overlaps joined."""
    from qa.vad import Region

    spans = sorted([(r.start, r.end) for r in regions]
                   + [(max(0.0, r.start), min(duration_s, r.end)) for r in extra if r.end > 0 and r.start < duration_s])
    out: list[Region] = []
    for start, end in spans:
        if out and start <= out[-1].end:
            out[-1] = Region(out[-1].start, max(out[-1].end, end))
        else:
            out.append(Region(start, end))
    return out


def transcribe_spans(
    model,
    read,
    spans: list[tuple[float, float]],
    language: str | None,
    options: AsrOptions = AsrOptions(),
    channel: int | None = None,
    speech: list | None = None,
) -> Transcript:
    """Transcribe a long signal chunk by chunk: `read(start_s, end_s)` -> 16 kHz mono samples.

    `spans` should be cut in silences (`qa.vad.plan_chunks`), so no word straddles a cut;
    chunks do not overlap, so no word is transcribed twice. The language detected on the
    first chunk (when `language` is None) is kept for the rest of the call. `speech`: regions
    (call time) that hold speech besides what the VAD gate finds (see `transcribe`).
    """
    from qa.vad import Region

    words: list[Word] = []
    dropped: dict[str, int] = {}
    detected, probability = language, 1.0
    for i, (start, end) in enumerate(spans):
        extra = [Region(r.start - start, r.end - start) for r in speech or [] if r.end > start and r.start < end]
        tr = transcribe(model, read(start, end), language or detected, options, channel, offset=start, speech=extra)
        if i == 0:
            detected, probability = tr.language, tr.language_probability
        words.extend(tr.words)
        for k, v in tr.dropped.items():
            dropped[k] = dropped.get(k, 0) + v
    return Transcript(words, detected or "", probability, dropped)
