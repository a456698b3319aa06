"""Shared benchmark helpers: timing, peak RSS of a child process, the machine, inputs, tables.

Every benchmark compares against a baseline measured in the same run (ratios, not absolute
seconds, are what carries over between machines). Peak memory is measured on a fresh child
process: `os.wait4` returns the child's own `ru_maxrss`, so nothing the parent holds counts.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from qa.sysinfo import machine, machine_line  # noqa: F401  (re-exported for the benchmarks)

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLES = REPO / "sample_audio"
RESULTS = REPO / "benchmarks" / "results"
AWS_CALLS = (40, 49)


# --- timing ---------------------------------------------------------------------------
@dataclass
class Timer:
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    """`with timed() as t: ...` then `t.seconds`."""
    t = Timer()
    t0 = time.perf_counter()
    try:
        yield t
    finally:
        t.seconds = time.perf_counter() - t0


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator rounded to 3 places; None when the baseline is zero."""
    return round(numerator / denominator, 3) if denominator > 0 else None


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 and max in milliseconds of timings given in seconds."""
    ms = [s * 1000 for s in samples]
    return {"p50_ms": round(statistics.median(ms), 1), "max_ms": round(max(ms), 1), "n": len(ms)}


# --- child processes -----------------------------------------------------------------
@dataclass
class ChildRun:
    """A finished child process: exit code, wall time, peak RSS, and the JSON it printed last."""

    returncode: int
    wall_s: float
    peak_rss_mb: float
    output: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""


def child_env(pythonpath: Sequence[Path | str] | None = None, threads: int | None = None) -> dict[str, str]:
    """Environment for a child: repository on PYTHONPATH, optional thread caps for BLAS/OpenMP."""
    env = dict(os.environ)
    paths = [str(p) for p in (pythonpath or [REPO])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
    return env


def run_child(args: Sequence[str], env: dict[str, str] | None = None, timeout_s: float = 7200.0) -> ChildRun:
    """Run `python ARGS` in a fresh process; peak RSS from the kernel's high-water mark of the child.

    The child's `/proc/<pid>/status` VmHWM (its own address space, started fresh at exec) is
    polled every 10 ms; `wait4`'s ru_maxrss is not used alone because Linux carries the parent's
    high-water mark into a forked child, so a child of a big process would report the parent's
    size. The child is expected to print one JSON object as its last stdout line.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, env=env or child_env(), cwd=REPO)
        deadline = t0 + timeout_s
        hwm_kb = 0
        while True:
            hwm_kb = max(hwm_kb, _vm_hwm_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        lines = [ln for ln in out.read().splitlines() if ln.strip()]
        output: dict[str, Any] = {}
        if lines:
            try:
                output = json.loads(lines[-1])
            except json.JSONDecodeError:
                output = {}
        peak_kb = hwm_kb or usage.ru_maxrss  # a child too short to be sampled: the kernel's figure
        return ChildRun(proc.returncode, round(wall, 2), round(peak_kb / 1024, 1), output, err.read()[-2000:])


def _vm_hwm_kb(pid: int) -> int:
    """The peak resident set size (KiB) of a running process's current address space, 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


# --- the machine ---------------------------------------------------------------------
# `machine()` and `machine_line()` live in `qa.sysinfo`, shared with `callqa eval`.


# --- inputs --------------------------------------------------------------------------
def sample_calls(limit: int | None = None) -> list[Path]:
    """The synthetic sample calls (audio files with a reference JSON), sorted by name."""
    refs = sorted((SAMPLES / "reference").glob("*.json"))
    out = []
    for ref in refs:
        found = [p for p in SAMPLES.glob(f"{ref.stem}.*") if p.suffix != ".json"]
        if found:
            out.append(found[0])
    return out[:limit] if limit else out


def aws_mix(call: int, layout: str, work: Path) -> Path | None:
    """AWS role-played call `call` as one stereo (agent left) or mono file in `work` (None if absent)."""
    from qa.evaluation import mix_tracks

    agent = SHARED / "aws_lca" / f"Auto_Repairs_{call}_UTC_agent.wav"
    caller = SHARED / "aws_lca" / f"Auto_Repairs_{call}_UTC_caller.wav"
    if not agent.exists() or not caller.exists():
        return None
    out = work / f"aws{call}_{layout}.wav"
    if not out.exists():
        mix_tracks(agent, caller, out, layout)
        out.with_suffix(".json").write_text(json.dumps({"language": "en", "direction": "inbound"}))
    return out


def audio_seconds(path: Path) -> float:
    """Duration of an audio file from its header (soundfile), else by decoding."""
    import soundfile as sf

    try:
        return float(sf.info(str(path)).duration)
    except Exception:
        from qa.audio import load_audio

        return load_audio(path).duration_s


# --- output --------------------------------------------------------------------------
def fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def table(rows: Sequence[dict[str, Any]], cols: Sequence[str], headers: Sequence[str] | None = None) -> str:
    """A markdown table of `rows` (dicts) with the columns `cols`."""
    heads = list(headers or cols)
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_result(name: str, result: dict[str, Any], markdown: str, out_dir: Path = RESULTS) -> Path:
    """Write `<name>.json` and `<name>.md` to `out_dir`; returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    (out_dir / f"{name}.md").write_text(markdown)
    return path


def sized_main(name: str, doc: str, run: Callable[[tuple[int, ...], int], dict[str, Any]],
               to_markdown: Callable[[dict[str, Any]], str], argv: list[str] | None = None,
               sizes: tuple[int, ...] = (10_000, 100_000)) -> int:
    """The command line of a benchmark run at several store sizes: `--calls N` (repeatable), `--repeats`, `--out`."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--calls", type=int, action="append", help=f"store size (repeatable; default {sizes})")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help=f"write {name}.json/.md here")
    args = p.parse_args(argv)
    res = run(tuple(args.calls or sizes), args.repeats)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result(name, res, md, args.out)
    return 0
