"""Batch throughput: audio hours per wall hour with 1 worker (2 threads) vs 2 workers (1 thread each).

Both runs take the real ingest path, `qa.ingest.handle_file` (hash, skip check, process,
store), into a fresh temporary DuckDB file. Workers are separate processes writing to the
same file; DuckDB allows one writer at a time and the store retries while it is locked.
Files are split between workers longest first, each to the worker with less audio so far.
Wall time runs from the first worker's start to the last one's exit, model loading included
(a batch pays it once per worker).

    python -m benchmarks.bench_throughput              # the 9 sample calls
    python -m benchmarks.bench_throughput --quick      # two short clips (harness test)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO, SHARED, audio_seconds, child_env, machine, machine_line, ratio, sample_calls, table, write_result,
)


def split(files: list[Path], workers: int) -> list[list[Path]]:
    """Longest-first greedy split so every worker gets about the same amount of audio."""
    shares: list[list[Path]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for path in sorted(files, key=audio_seconds, reverse=True):
        k = load.index(min(load))
        shares[k].append(path)
        load[k] += audio_seconds(path)
    return shares


def _worker(db: str, threads: int, language: str | None, files: list[str]) -> None:
    """Child: ingest `files` one after another and print the outcomes as JSON (no transcript text)."""
    from qa.config import load_settings
    from qa.ingest import handle_file
    from qa.store import Store

    settings = load_settings(asr_threads=threads, db=Path(db), language=language)
    store = Store(settings.db)
    outcomes = [handle_file(f, settings, store) for f in files]
    print(json.dumps([{"status": o.status, "duration_s": o.duration_s, "seconds": round(o.seconds, 2),
                       "stage": o.stage} for o in outcomes]))


def run_workers(files: list[Path], workers: int, threads: int, db: Path, language: str | None = None) -> dict[str, Any]:
    """Ingest `files` with `workers` processes of `threads` threads each; wall time and outcomes."""
    from qa.store import Store

    Store(db).init()
    env = child_env([REPO], threads=threads)
    procs = []
    t0 = time.perf_counter()
    for share in split(files, workers):
        if not share:
            continue
        args = [sys.executable, "-m", "benchmarks.bench_throughput", "--worker", "--db", str(db),
                "--threads", str(threads), *(["--language", language] if language else []), *map(str, share)]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                      cwd=REPO))
    outcomes: list[dict[str, Any]] = []
    errors = []
    for proc in procs:
        out, err = proc.communicate()
        lines = [ln for ln in out.splitlines() if ln.strip()]
        if proc.returncode != 0 or not lines:
            errors.append(err.strip().splitlines()[-1:] or [f"exit {proc.returncode}"])
            continue
        outcomes.extend(json.loads(lines[-1]))
    wall = time.perf_counter() - t0
    audio = sum(o["duration_s"] for o in outcomes if o["status"] == "ok")
    stored = Store(db).query("SELECT count(*) FROM calls WHERE status = 'ok'")[0][0]
    return {
        "workers": workers, "threads_each": threads, "files": len(files), "ok": sum(o["status"] == "ok" for o in outcomes),
        "stored": stored, "audio_h": round(audio / 3600, 4), "wall_s": round(wall, 1),
        "audio_h_per_wall_h": round(audio / wall, 3) if wall else None, "errors": errors,
    }


def run(files: list[Path], language: str | None = None, work: Path | None = None) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="callqa-tput-") if work is None else None
    work = Path(tmp.name) if tmp else Path(work)
    try:
        one = run_workers(files, 1, 2, work / "one.duckdb", language)
        print(f"  1 worker: {one['audio_h_per_wall_h']} audio h / wall h", file=sys.stderr)
        two = run_workers(files, 2, 1, work / "two.duckdb", language)
        print(f"  2 workers: {two['audio_h_per_wall_h']} audio h / wall h", file=sys.stderr)
        return {"runs": [one, two], "speedup_2_vs_1": ratio(two["audio_h_per_wall_h"] or 0, one["audio_h_per_wall_h"] or 0),
                "files": [p.name for p in files]}
    finally:
        if tmp:
            tmp.cleanup()


def to_markdown(res: dict[str, Any]) -> str:
    rows = [dict(r, setup=f"{r['workers']} worker(s) x {r['threads_each']} thread(s)") for r in res["runs"]]
    return (
        f"**Batch throughput** (`handle_file` into one DuckDB file; {len(res['files'])} files; model loading "
        f"included): 2 workers / 1 worker = **{res['speedup_2_vs_1']}**\n\n"
        + table(rows, ["setup", "ok", "stored", "audio_h", "wall_s", "audio_h_per_wall_h"],
                ["setup", "ok", "stored", "audio (h)", "wall (s)", "audio h per wall h"])
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--samples", type=int, default=None, help="use only the first N sample calls")
    p.add_argument("--quick", action="store_true", help="jfk.flac and the stereo test clip, English")
    p.add_argument("--out", type=Path, default=None, help="write bench_throughput.json/.md here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    p.add_argument("--language", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args.db, args.threads, args.language, [str(f) for f in args.files])
        return 0
    language = None
    if args.quick:
        files = [SHARED / "faster_whisper" / "jfk.flac", SHARED / "faster_whisper" / "stereo_diarization.wav"]
        language = "en"
    else:
        files = args.files or sample_calls(args.samples)
    res = run(files, language)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_throughput", res, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
