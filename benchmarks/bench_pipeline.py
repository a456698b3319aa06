"""Whole pipeline vs bare faster-whisper on the same files, model, compute type and threads.

Baseline: `WhisperModel(model_dir, device="cpu", compute_type=settings.asr_compute_type,
cpu_threads=settings.asr_threads).transcribe(...)` with the language, beam size, VAD and
word-timestamp flags the pipeline uses (`qa/asr.py`), every segment consumed, on the file
decoded by faster-whisper itself (`decode_audio`, split per channel when the pipeline
treats the call as stereo). Pipeline: `process_call` plus `Store.save_call` into a temporary
DuckDB file. Both share one loaded model (model loading is reported apart, not counted).

Printed: the ratio pipeline / bare overall and per file; the "same work" ratio (the
pipeline's decode + ASR stages against the baseline, which does exactly that work); and the
per-stage breakdown from `CallResult.timings` (new stages show up as they are added).

    python -m benchmarks.bench_pipeline                   # 9 sample calls + AWS call 40 stereo and mono
    python -m benchmarks.bench_pipeline --quick           # one short clip (harness test)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import (
    SHARED, audio_seconds, aws_mix, machine, machine_line, ratio, sample_calls, table, timed, write_result,
)

SAME_WORK = ("decode", "asr")  # the pipeline stages that do what the baseline does
NOT_COUNTED = ("model_load",)  # once per process, in both


KNOWN_LANGUAGES = {"jfk.flac": "en", "stereo_diarization.wav": "en", "sample.wav": "en"}


def _language(path: Path, default: str) -> str:
    if path.name in KNOWN_LANGUAGES:
        return KNOWN_LANGUAGES[path.name]
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        lang = json.loads(sidecar.read_text()).get("language")
        if lang:
            return lang
    ref = path.parent / "reference" / f"{path.stem}.json"
    if ref.exists():
        return json.loads(ref.read_text()).get("language", default)
    return default


def bare_whisper(model, path: Path, channels: int, language: str, beam_size: int) -> dict[str, float]:
    """Decode with faster-whisper and transcribe each channel with the pipeline's flags; seconds and words."""
    from faster_whisper import decode_audio

    from qa.asr import AsrOptions

    opts = AsrOptions(beam_size=beam_size)
    with timed() as t_decode:
        decoded = decode_audio(str(path), sampling_rate=16000, split_stereo=channels == 2)
    tracks = list(decoded) if channels == 2 else [decoded]
    words = 0
    with timed() as t_asr:
        for samples in tracks:
            segments, _ = model.transcribe(
                samples, language=language, beam_size=opts.beam_size, word_timestamps=True, vad_filter=True,
                vad_parameters={"min_silence_duration_ms": opts.vad_min_silence_ms,
                                "speech_pad_ms": opts.vad_speech_pad_ms, "threshold": opts.vad_threshold},
                condition_on_previous_text=False, no_speech_threshold=opts.no_speech_threshold,
                log_prob_threshold=opts.log_prob_threshold,
                compression_ratio_threshold=opts.compression_ratio_threshold,
                hallucination_silence_threshold=opts.hallucination_silence_threshold,
                temperature=list(opts.temperatures),
            )
            words += sum(len(s.words or []) for s in segments)
    return {"decode": t_decode.seconds, "asr": t_asr.seconds, "total": t_decode.seconds + t_asr.seconds,
            "words": words}


def pipeline_run(path: Path, settings, store) -> dict[str, Any]:
    from qa.pipeline import process_call

    result = process_call(path, settings)
    with timed() as t_store:
        store.save_call(result)
    timings = dict(result.timings)
    timings["store"] = t_store.seconds
    total = sum(v for k, v in timings.items() if k not in NOT_COUNTED)
    return {"timings": timings, "total": total, "channels": result.channels, "words": result.stats.get("words"),
            "language": result.language}


def default_files(work: Path, limit: int | None = None, aws: bool = True) -> list[Path]:
    files = sample_calls(limit)
    if aws:
        files += [p for p in (aws_mix(40, "stereo", work), aws_mix(40, "mono", work)) if p is not None]
    return files


def run(files: list[Path], threads: int = 2, work: Path | None = None) -> dict[str, Any]:
    from qa.asr import load_model
    from qa.config import load_settings
    from qa.models import resolve_asr_model
    from qa.store import Store

    tmp = tempfile.TemporaryDirectory(prefix="callqa-pipe-")
    try:
        settings = load_settings(asr_threads=threads, db=Path(tmp.name) / "bench.duckdb")
        store = Store(settings.db)
        store.init()
        with timed() as t_load:
            model = load_model(resolve_asr_model(settings), settings.asr_compute_type, settings.asr_threads)
        warm = SHARED / "faster_whisper" / "jfk.flac"  # first-call costs (imports, VAD session) out of the way
        if warm.exists() and warm not in files:
            pipeline_run(warm, settings.model_copy(update={"language": "en"}), store)
            bare_whisper(model, warm, 1, "en", settings.asr_beam_size)
        rows = []
        for path in files:
            lang = _language(path, settings.language)
            s = settings.model_copy(update={"language": lang})
            pipe = pipeline_run(path, s, store)
            bare = bare_whisper(model, path, pipe["channels"], lang, settings.asr_beam_size)
            same = sum(pipe["timings"].get(k, 0.0) for k in SAME_WORK)
            rows.append({
                "file": path.name, "language": lang, "channels": pipe["channels"],
                "audio_s": round(audio_seconds(path), 1), "bare_s": round(bare["total"], 2),
                "pipeline_s": round(pipe["total"], 2), "ratio": ratio(pipe["total"], bare["total"]),
                "same_work_ratio": ratio(same, bare["total"]), "bare_words": bare["words"],
                "pipeline_words": pipe["words"], "timings": {k: round(v, 3) for k, v in pipe["timings"].items()},
            })
            print(f"  {path.name}: pipeline {pipe['total']:.1f} s, bare {bare['total']:.1f} s", file=sys.stderr)
        stages: dict[str, float] = {}
        for r in rows:
            for k, v in r["timings"].items():
                if k not in NOT_COUNTED:
                    stages[k] = stages.get(k, 0.0) + v
        bare_total = sum(r["bare_s"] for r in rows)
        pipe_total = sum(r["pipeline_s"] for r in rows)
        return {
            "rows": rows, "threads": threads, "model_load_s": round(t_load.seconds, 2),
            "settings": {"asr_model": settings.asr_model, "compute_type": settings.asr_compute_type,
                         "beam_size": settings.asr_beam_size},
            "audio_s": round(sum(r["audio_s"] for r in rows), 1),
            "bare_s": round(bare_total, 2), "pipeline_s": round(pipe_total, 2),
            "ratio": ratio(pipe_total, bare_total),
            "same_work_ratio": ratio(sum(stages.get(k, 0.0) for k in SAME_WORK), bare_total),
            "stages": {k: {"seconds": round(v, 2), "share": round(v / pipe_total, 3) if pipe_total else None}
                       for k, v in stages.items()},
        }
    finally:
        tmp.cleanup()


def to_markdown(res: dict[str, Any]) -> str:
    s = res["settings"]
    head = (
        f"**Pipeline vs bare faster-whisper** ({s['asr_model']}, {s['compute_type']}, beam {s['beam_size']}, "
        f"{res['threads']} threads; {res['audio_s']:.0f} s of audio in {len(res['rows'])} files): pipeline / bare = "
        f"**{res['ratio']}** overall; same work (decode + ASR stages vs the baseline) = **{res['same_work_ratio']}**. "
        "The rest is what the pipeline adds: diarization, PII redaction, roles, rubric scoring (and any later "
        "stages), and the store write.\n\n"
    )
    files = table(res["rows"], ["file", "language", "channels", "audio_s", "bare_s", "pipeline_s", "ratio",
                                "same_work_ratio"],
                  ["file", "lang", "ch", "audio (s)", "bare (s)", "pipeline (s)", "ratio", "same-work ratio"])
    stages = [{"stage": k, **v} for k, v in res["stages"].items()]
    stages_md = table(stages, ["stage", "seconds", "share"], ["stage", "seconds (all files)", "share of pipeline"])
    return head + files + "\n\nPer stage (model loading, once per process, excluded: " + \
        f"{res['model_load_s']} s)\n\n" + stages_md + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path, help="recordings (default: sample calls + AWS call 40)")
    p.add_argument("--samples", type=int, default=None, help="use only the first N sample calls")
    p.add_argument("--no-aws", action="store_true", help="leave out the AWS call")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="one short clip (jfk.flac, 11 s)")
    p.add_argument("--out", type=Path, default=None, help="write bench_pipeline.json/.md here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="callqa-mix-") as work:
        if args.quick:
            files = [SHARED / "faster_whisper" / "jfk.flac"]
        else:
            files = args.files or default_files(Path(work), args.samples, not args.no_aws)
        res = run(files, args.threads)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_pipeline", res, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
