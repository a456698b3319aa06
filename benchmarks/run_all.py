"""Run every benchmark and write `benchmarks/results/latest.json` and `latest.md` (the README table).

Sections: pipeline vs bare faster-whisper with the per-stage breakdown, batch throughput
with 1 and 2 workers, peak memory against call length, store and dashboard queries. Each
section runs in order in this process or its own children; a failing section is recorded
and the others still run. The defaults are sized for a 2-core machine (see each module for
the full options); `--quick` runs the harness on tiny inputs.

    python -m benchmarks.run_all
    python -m benchmarks.run_all --only store,memory
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from benchmarks import bench_memory, bench_pipeline, bench_store, bench_throughput
from benchmarks.common import RESULTS, SHARED, machine, machine_line, sample_calls

SECTIONS = ("pipeline", "throughput", "memory", "store")


def _sections(quick: bool, work: Path) -> dict[str, tuple[Callable[[], dict], Callable[[dict], str]]]:
    if quick:
        jfk = SHARED / "faster_whisper" / "jfk.flac"
        return {
            "pipeline": (lambda: bench_pipeline.run([jfk]), bench_pipeline.to_markdown),
            "throughput": (lambda: bench_throughput.run([jfk], "en"), bench_throughput.to_markdown),
            "memory": (lambda: bench_memory.run((0.5,), ("mono",)), bench_memory.to_markdown),
            "store": (lambda: bench_store.run((300,), 2), bench_store.to_markdown),
        }
    return {
        "pipeline": (lambda: bench_pipeline.run(bench_pipeline.default_files(work)), bench_pipeline.to_markdown),
        "throughput": (lambda: bench_throughput.run(sample_calls()), bench_throughput.to_markdown),
        "memory": (lambda: bench_memory.run(), bench_memory.to_markdown),
        "store": (lambda: bench_store.run(), bench_store.to_markdown),
    }


def run(only: tuple[str, ...] = SECTIONS, quick: bool = False, out_dir: Path = RESULTS) -> dict[str, Any]:
    result: dict[str, Any] = {"machine": machine(), "quick": quick, "sections": {}}
    parts = []
    with tempfile.TemporaryDirectory(prefix="callqa-bench-") as work:
        for name, (fn, render) in _sections(quick, Path(work)).items():
            if name not in only:
                continue
            t0 = time.perf_counter()
            try:
                res = fn()
                res["seconds"] = round(time.perf_counter() - t0, 1)
                result["sections"][name] = res
                parts.append(render(res))
            except Exception as exc:  # one broken section must not lose the others
                result["sections"][name] = {"error": f"{type(exc).__name__}: {exc}",
                                            "trace": traceback.format_exc()[-2000:]}
                parts.append(f"**{name}**: failed ({type(exc).__name__}: {exc})\n")
            print(f"[{name}] {time.perf_counter() - t0:.0f} s", flush=True)
    result["seconds"] = round(sum(s.get("seconds", 0) for s in result["sections"].values()), 1)
    md = (
        f"Benchmarks run {result['machine']['date']} on: {machine_line(result['machine'])}. "
        f"Total {result['seconds'] / 60:.0f} min. Ratios are measured in the same run; absolute seconds depend on "
        "the machine and on whatever else was running.\n\n" + "\n".join(parts)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "quick" if quick else "latest"
    (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    (out_dir / f"{name}.md").write_text(md)
    result["markdown"] = md
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}")
    p.add_argument("--quick", action="store_true", help="tiny inputs; writes quick.json/quick.md instead of latest")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    res = run(only, args.quick, args.out)
    print(res["markdown"])
    return 0 if all("error" not in s for s in res["sections"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
