"""One call, end to end: decode -> diarize -> transcribe -> redact -> roles -> utterances ->
sentiment -> metrics and holds -> customer profiles -> score.

`process_call` is plain Python (no Prefect): the flows in `pipelines/` wrap it in tasks,
the benchmarks time its stages, and tests call it directly. Each stage raises a
`StageError` naming the stage, so a failure is recorded with where and why.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa import audio as audio_module
from qa.asr import AsrOptions, Word, load_model, transcribe_spans
from qa.audio import Audio, load_audio
from qa import analysis, quality
from qa.callfacts import CallEvent, rubric_context
from qa.config import Settings
from qa.diarization import Diarization, diarize
from qa.metadata import CallMetadata, read_metadata
from qa.models import resolve_asr_model
from qa.pii import PiiSpan, find_pii, redact_words
from qa.roles import assign_roles
from qa.rubric.engine import CallScore, ItemResult, score_call
from qa.rubric.schema import Rubric, RubricError, find_rubric, load_rubric
from qa.transcript import Utterance, build_utterances, drop_echo, label_words
from qa.vad import Region, plan_chunks


class StageError(RuntimeError):
    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage
        self.message = message


@dataclass
class CallResult:
    call_id: str
    source_path: Path
    content_sha256: str
    metadata: CallMetadata
    duration_s: float
    channels: int
    source_sample_rate: int
    codec: str
    language: str
    language_probability: float
    asr_model: str
    diarization_method: str
    role_method: str
    role_confidence: float
    utterances: list[Utterance]
    activity: list[tuple[str, str, float, float]]  # (speaker, role, start, end) speech turns
    pii: list[PiiSpan]  # what was redacted (kind, time, masked value), never the value itself
    item_results: list[ItemResult]
    call_score: CallScore | None
    metrics: dict[str, float | None] = field(default_factory=dict)  # conversation metrics and acoustic cues
    events: list[CallEvent] = field(default_factory=list)  # holds, interruptions
    profiles: list[Any] = field(default_factory=list)  # customer profile tags (qa.profiles.ProfileTag)
    sentiment: dict[str, Any] | None = None  # call-level summary (customer trajectory, agent tone)
    stats: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # ok | unscored (transcript stored, no score: see qa.quality)
    status_reason: str | None = None  # why unscored ("no speech", "agent channel silent", "scoring failed: ...")
    status_stage: str | None = None  # quality | scoring


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def expected_names(rubric: Rubric | None, agent_name: str | None) -> list[str]:
    """Names a call is expected to contain: the rubric's company names, the agent's full name."""
    names = list(rubric.variables.get("company", [])) if rubric else []
    if agent_name and agent_name.strip():
        names.append(agent_name.strip())
    return list(dict.fromkeys(n for n in names if n))


def asr_options(settings: Settings, names: list[str]) -> AsrOptions:
    """Decoding options, with the expected `names` passed to whisper as `settings.asr_name_bias` says."""
    text = ", ".join(names) if names else None
    if settings.asr_name_bias == "hotwords":
        return AsrOptions(beam_size=settings.asr_beam_size, hotwords=text)
    if settings.asr_name_bias == "prompt":
        return AsrOptions(beam_size=settings.asr_beam_size, initial_prompt=f"{text}." if text else None)
    return AsrOptions(beam_size=settings.asr_beam_size)


def pick_rubric(settings: Settings, language: str) -> Rubric | None:
    """The configured rubric, else `<language>_inbound` if the repository has one."""
    ref = settings.rubric or f"{language}_inbound"
    try:
        path = find_rubric(ref, settings.rubric_dir)
    except RubricError:
        if settings.rubric:
            raise
        return None  # no default rubric for this language: store the call unscored
    return load_rubric(path)


def _rubric_keeping_transcript(settings: Settings, language: str) -> tuple[Rubric | None, str | None]:
    """`pick_rubric`, with a broken rubric kept as the reason instead of raised: the transcript is
    stored and scoring can be redone with `callqa rescore`."""
    try:
        return pick_rubric(settings, language), None
    except RubricError as exc:
        return None, str(exc)


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def stage(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, exc_type, exc, tb):
                clock.timings[name] = clock.timings.get(name, 0.0) + time.perf_counter() - self.t0
                if exc is not None and not isinstance(exc, StageError):
                    raise StageError(name, f"{type(exc).__name__}: {exc}") from exc
                return False

        return _Stage()


def _transcribe_audio(
    model, audio: Audio, language: str | None, options: AsrOptions, diar: Diarization | None = None,
    chunk_s: float | None = None,
):
    """Stereo: each channel on its own (words carry their channel); mono: the mix.

    A call longer than `chunk_s` (default `qa.audio.CHUNK_S`) is transcribed in chunks cut in
    the middle of pauses where nobody speaks (from `diar`), read from `audio` one at a time.
    """
    regions = [Region(t.start, t.end) for t in diar.turns] if diar is not None else []
    spans = plan_chunks(regions, audio.duration_s, chunk_s or audio_module.CHUNK_S)
    if audio.n_channels == 2:
        # each channel's own activity joins its VAD gate (mono: the call's), so short answers Silero
        # misses are still heard
        active = {ch: [Region(t.start, t.end) for t in (diar.turns if diar else []) if t.speaker == f"ch{ch}"]
                  for ch in (0, 1)}
        first = transcribe_spans(model, lambda a, b: audio.read(a, b)[0], spans, language, options, channel=0,
                                 speech=active[0])
        second = transcribe_spans(
            model, lambda a, b: audio.read(a, b)[1], spans, language or first.language, options, channel=1,
            speech=active[1],
        )
        dropped = {k: first.dropped.get(k, 0) + second.dropped.get(k, 0) for k in first.dropped}
        words = sorted(first.words + second.words, key=lambda w: w.start)
        return words, first.language, first.language_probability, dropped
    tr = transcribe_spans(model, audio.read_mono, spans, language, options,
                          speech=[Region(t.start, t.end) for t in diar.turns] if diar else None)
    return tr.words, tr.language, tr.language_probability, tr.dropped


def process_call(
    path: str | Path,
    settings: Settings,
    rubric: Rubric | None = None,
    sha256: str | None = None,
    metadata: CallMetadata | None = None,
) -> CallResult:
    """Process one recording; raises `StageError` with the failing stage and a readable reason."""
    path = Path(path)
    clock = _Clock()
    with clock.stage("metadata"):
        meta = metadata or read_metadata(path, settings.filename_pattern, settings.metadata_timezone)
        sha = sha256 or file_sha256(path)
    with clock.stage("decode"):
        audio = load_audio(path)
    language = (meta.language or settings.language).lower()
    whisper_language = None if language == "auto" else language
    with clock.stage("model_load"):
        model_ref = resolve_asr_model(settings)
        model = load_model(model_ref, settings.asr_compute_type, settings.asr_threads)
    rubric_error = None
    if rubric is None and whisper_language:  # known before decoding: its names can bias whisper
        rubric, rubric_error = _rubric_keeping_transcript(settings, language)
    with clock.stage("diarization"):
        diar: Diarization = diarize(audio, settings.diarization, settings.num_speakers, settings.pyannote_pipeline)
    with clock.stage("asr"):
        options = asr_options(settings, expected_names(rubric, meta.agent_name))
        words, detected, lang_prob, dropped = _transcribe_audio(model, audio, whisper_language, options, diar)
    language = whisper_language or detected
    echo_dropped = 0
    if audio.n_channels == 2:
        words, echo_dropped = drop_echo(words, diar)
    n_words = len(words)
    with clock.stage("pii"):
        pii: list[PiiSpan] = []
        if settings.redact_pii:  # nothing after this point sees the raw digits or addresses
            words = sorted(words, key=lambda w: (w.start, w.end))
            pii = find_pii(words, language)
            words = redact_words(words, pii)
    with clock.stage("roles"):
        labelled = label_words(words, diar)
        by_speaker: dict[str, list[Word]] = {s: [] for s in diar.speakers}
        for w, spk in labelled:
            if spk is not None:
                by_speaker.setdefault(spk, []).append(w)
        if rubric is None and whisper_language is None:  # the language whisper detected picks it
            rubric, rubric_error = _rubric_keeping_transcript(settings, language)
        companies = rubric.variables.get("company", []) if rubric else []
        first = diar.turns[0].speaker if diar.turns else None
        agent_speaker = None
        if audio.n_channels == 2 and "agent_channel" in meta.model_fields_set:
            agent_speaker = f"ch{meta.agent_channel}"
        roles = assign_roles(by_speaker, diar.speakers, language, meta.direction, companies, first, agent_speaker)
        if audio.n_channels == 2 and agent_speaker is None and roles.agent is None:
            roles = assign_roles(by_speaker, diar.speakers, language, agent_speaker=f"ch{meta.agent_channel}")
        utterances = build_utterances(labelled, roles.roles)
    activity = [(t.speaker, roles.roles.get(t.speaker, "unknown"), t.start, t.end) for t in diar.turns]
    with clock.stage("sentiment"):
        sentiment = analysis.add_sentiment(utterances, language, settings)
    with clock.stage("metrics"):
        metrics, events = analysis.conversation(
            audio, utterances, activity, audio.duration_s, language, settings.acoustic_cues
        )
    with clock.stage("profiles"):
        tags = analysis.profiles(metrics, utterances, language)
    with clock.stage("quality"):  # qa.quality: audio flags; silence, noise, a silent agent -> unscored
        channel_quality = quality.measure(audio)
        unscored = quality.unscored_reason(channel_quality, utterances, roles.agent)
        unscored_stage = "quality" if unscored else None
    with clock.stage("scoring"):
        items: list[ItemResult] = []
        score: CallScore | None = None
        if rubric is not None and unscored is None:
            ctx = rubric_context(
                duration_s=audio.duration_s, language=language, direction=meta.direction, queue=meta.queue,
                agent_name=meta.agent_name, metrics=metrics, events=events, sentiment=sentiment,
                embedding_model=settings.embedding_model,
            )
            items, score, unscored = quality.bounded_score(lambda: score_call(rubric, utterances, ctx))
            unscored_stage = "scoring" if unscored else None
    stats = {
        "words": n_words,
        "pii_redacted": {k: sum(p.kind == k for p in pii) for k in sorted({p.kind for p in pii})},
        "asr_dropped": dropped | {"echo": echo_dropped},
        "speech_s": {s: round(diar.speech_time(s), 2) for s in diar.speakers},
        "role_evidence": {k: round(v, 2) for k, v in roles.evidence.items()},
        "agent_speaker": roles.agent,
        "rubric": f"{rubric.id}@{rubric.version}" if rubric else None,
        "rubric_error": rubric_error,
        "audio_quality": quality.summary(channel_quality),
    }
    return CallResult(
        call_id=meta.call_id or path.stem,
        source_path=path.resolve(),
        content_sha256=sha,
        metadata=meta,
        duration_s=round(audio.duration_s, 3),
        channels=audio.n_channels,
        source_sample_rate=audio.source_rate,
        codec=audio.codec,
        language=language,
        language_probability=round(lang_prob, 3),
        asr_model=settings.asr_model,
        diarization_method=diar.method,
        role_method=roles.method,
        role_confidence=roles.confidence,
        utterances=utterances,
        pii=pii,
        activity=activity,
        item_results=items,
        call_score=score,
        metrics=metrics,
        events=events,
        profiles=tags,
        sentiment=sentiment,
        stats=stats,
        timings={k: round(v, 3) for k, v in clock.timings.items()},
        status="unscored" if unscored else "ok",
        status_reason=unscored,
        status_stage=unscored_stage,
    )
