"""Peak memory against call length: `process_call` on 5 min, 30 min and 2 h recordings.

The long recordings are real calls (the AWS role-played calls, stereo 8 kHz with the agent
on the left, and their mono mix) concatenated to the target length. Each recording is
processed by `qa.pipeline.process_call` in a fresh child process; peak RSS is the child's
own `ru_maxrss`. The curve should be flat: the pipeline decodes and processes long calls in
chunks.

Time budget: whisper decoding costs ~0.3-0.7x real time per channel on this shared machine,
so 2 h stereo alone would take hours. `--asr-segments N` (default 8) stops consuming
whisper's lazy segment generator after N segments per `transcribe` call (applied in the
child only). `WhisperModel.transcribe` does its length-dependent work eagerly, before the
first segment: VAD over the whole input, joining the speech, log-mel features of all of it;
that still runs in full, as do decoding the file, diarization, roles and scoring. What is
cut is the 30 s-window decode loop, whose memory does not grow with length. With chunked
ASR every chunk still goes through whisper. `--asr-segments 0` decodes everything.

    python -m benchmarks.bench_memory                  # 5/30/120 min, stereo + mono
    python -m benchmarks.bench_memory --quick          # one short clip, to test the harness
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, aws_mix, child_env, machine, machine_line, run_child, table, write_result

DEFAULT_MINUTES = (5.0, 30.0, 120.0)
DEFAULT_SEGMENTS = 8


def make_long_recording(minutes: float, layout: str, work: Path, sources: list[Path] | None = None) -> Path:
    """Concatenate real calls (`layout` stereo|mono) into one `minutes`-long 16-bit WAV, written block by block."""
    import soundfile as sf

    out = work / f"long_{layout}_{minutes:g}min.wav"
    if out.exists():
        return out
    sources = sources or [p for p in (aws_mix(c, layout, work) for c in (40, 49)) if p is not None]
    if not sources:
        raise FileNotFoundError("no source calls to concatenate (../shared/data/aws_lca missing)")
    info = sf.info(str(sources[0]))
    target = int(minutes * 60 * info.samplerate)
    written = 0
    tmp = out.with_suffix(".part.wav")
    with sf.SoundFile(str(tmp), "w", info.samplerate, info.channels, "PCM_16") as dst:
        i = 0
        while written < target:
            data, sr = sf.read(str(sources[i % len(sources)]), dtype="int16", always_2d=True)
            if sr != info.samplerate or data.shape[1] != info.channels:
                raise ValueError("sources must share sample rate and channel count")
            take = data[: target - written]
            dst.write(take)
            written += len(take)
            i += 1
    tmp.replace(out)
    out.with_suffix(".json").write_text(json.dumps({"language": "en", "direction": "inbound"}))
    return out


def cap_whisper_segments(n_segments: int) -> None:
    """In this process, stop reading whisper's segment generator after `n_segments` per call.

    The eager part of `WhisperModel.transcribe` (VAD, feature extraction over the whole
    input) is untouched; only the lazy per-window decoding is cut short.
    """
    import functools
    import itertools

    from faster_whisper import WhisperModel

    original = WhisperModel.transcribe

    @functools.wraps(original)
    def capped(self, *args, **kwargs):
        segments, info = original(self, *args, **kwargs)
        return itertools.islice(segments, n_segments), info

    WhisperModel.transcribe = capped


def _child(path: str, asr_segments: int, threads: int) -> None:
    """Child process: process one call and print its stage timings as JSON (no transcript text)."""
    import resource

    if asr_segments > 0:
        cap_whisper_segments(asr_segments)

    from qa.config import load_settings
    from qa.pipeline import process_call

    settings = load_settings(asr_threads=threads, db=Path(tempfile.gettempdir()) / "unused.duckdb")
    result = process_call(path, settings)
    print(json.dumps({
        "duration_s": result.duration_s,
        "channels": result.channels,
        "utterances": len(result.utterances),
        "words": result.stats.get("words"),
        "timings": result.timings,
        "self_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


def measure(path: Path, asr_segments: int = DEFAULT_SEGMENTS, threads: int = 2, code_root: Path = REPO) -> dict[str, Any]:
    """Peak RSS and wall time of `process_call(path)` in a fresh child.

    `code_root` selects which checkout's `qa` package the child imports (e.g. an older
    commit's worktree, to measure a before/after curve with the same harness).
    """
    env = child_env([code_root, REPO], threads=threads)
    run = run_child(
        ["-m", "benchmarks.bench_memory", "--child", str(path), "--asr-segments", str(asr_segments),
         "--threads", str(threads)],
        env=env,
    )
    row: dict[str, Any] = {
        "file": path.name, "peak_rss_mb": run.peak_rss_mb, "wall_s": run.wall_s, "ok": run.returncode == 0,
    }
    if run.returncode == 0:
        out = run.output
        row.update(
            audio_min=round(out["duration_s"] / 60, 1), channels=out["channels"], words=out["words"],
            timings=out["timings"],
        )
    else:
        row["error"] = run.stderr_tail.strip().splitlines()[-1:] or [f"exit {run.returncode}"]
    return row


def run(
    minutes: tuple[float, ...] = DEFAULT_MINUTES,
    layouts: tuple[str, ...] = ("stereo", "mono"),
    asr_segments: int = DEFAULT_SEGMENTS,
    threads: int = 2,
    work: Path | None = None,
    code_root: Path = REPO,
) -> dict[str, Any]:
    own = work is None
    tmp = tempfile.TemporaryDirectory(prefix="callqa-mem-") if own else None
    work = Path(tmp.name) if tmp else Path(work)
    try:
        rows = []
        for layout in layouts:
            base = None
            for m in minutes:
                path = make_long_recording(m, layout, work)
                row = {"layout": layout, "minutes": m, **measure(path, asr_segments, threads, code_root)}
                base = base or row["peak_rss_mb"]
                row["vs_shortest_mb"] = round(row["peak_rss_mb"] - base, 1)
                rows.append(row)
                print(f"  {layout} {m:g} min: peak {row['peak_rss_mb']:.0f} MB, {row['wall_s']:.0f} s", file=sys.stderr)
                path.unlink(missing_ok=True)  # the long files are large; rebuilt on demand
        return {"rows": rows, "asr_segments": asr_segments, "threads": threads}
    finally:
        if tmp:
            tmp.cleanup()


def to_markdown(res: dict[str, Any]) -> str:
    cap = res["asr_segments"]
    note = (
        f"whisper's decode loop stopped after {cap} segments per transcribe call; everything that grows "
        "with length runs in full" if cap else "full whisper decoding"
    )
    rows = [dict(r, stage_s=", ".join(f"{k} {v:.0f}" for k, v in (r.get("timings") or {}).items()
                                       if v >= 1)) for r in res["rows"]]
    return (
        f"**Peak memory against call length** ({note}; one fresh process per recording)\n\n"
        + table(rows, ["layout", "minutes", "peak_rss_mb", "vs_shortest_mb", "wall_s", "stage_s"],
                ["layout", "call length (min)", "peak RSS (MB)", "vs shortest (MB)", "wall (s)", "stages ≥ 1 s (s)"])
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", default=",".join(f"{m:g}" for m in DEFAULT_MINUTES), help="call lengths (min)")
    p.add_argument("--layouts", default="stereo,mono")
    p.add_argument("--asr-segments", type=int, default=DEFAULT_SEGMENTS, help="0 = full decoding")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--code-root", type=Path, default=REPO, help="checkout whose qa/ the child imports")
    p.add_argument("--quick", action="store_true", help="one 0.5 min mono recording")
    p.add_argument("--out", type=Path, default=None, help="write bench_memory.json/.md here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, args.asr_segments, args.threads)
        return 0
    minutes = (0.5,) if args.quick else tuple(float(x) for x in args.minutes.split(","))
    layouts = ("mono",) if args.quick else tuple(args.layouts.split(","))
    res = run(minutes, layouts, args.asr_segments, args.threads, code_root=args.code_root)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_memory", res, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
