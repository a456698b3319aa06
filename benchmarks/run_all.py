"""Run every benchmark and write `benchmarks/results/latest.json` and `latest.md` (the README table).

Sections: pipeline vs bare faster-whisper with the per-stage breakdown, batch throughput
with 1 and 2 workers, peak memory against call length, store and dashboard queries,
rescoring and rubric comparison at 10k and 100k calls, coaching reports and pages (script run at 10k
and 100k, reports at 100k), the coaching pages' click to rendered in a real browser, and a reviewer's
clicks in headless Chromium at 10k and 100k calls (`bench_browser`). Each
section runs in order in this process or its own children; a failing section is recorded
and the others still run. `--only` re-runs some sections and keeps the others from the last
result file (each section records when and under what load it ran). `--quick` runs the
harness on tiny inputs and writes `quick.json`/`quick.md`.

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

from benchmarks import (
    bench_browser, bench_browser_coaching, bench_memory, bench_pipeline, bench_reports, bench_rescore, bench_store,
    bench_throughput,
)
from benchmarks.common import RESULTS, SHARED, machine, machine_line, sample_calls

SECTIONS = ("pipeline", "throughput", "memory", "store", "rescore", "reports", "coaching_browser", "browser")


def _sections(quick: bool, work: Path) -> dict[str, tuple[Callable[[], dict], Callable[[dict], str]]]:
    """Section name -> (run, render). The full set is sized for a 2-core machine: the 9 sample calls and
    AWS call 40 (stereo and mono mix) against bare whisper; throughput over the 9 samples; memory at
    5/30/120 min; the store at 10k/100k calls; rescoring at 10k/100k calls."""
    if quick:
        jfk = SHARED / "faster_whisper" / "jfk.flac"
        return {
            "pipeline": (lambda: bench_pipeline.run([jfk]), bench_pipeline.to_markdown),
            "throughput": (lambda: bench_throughput.run([jfk], "en"), bench_throughput.to_markdown),
            "memory": (lambda: bench_memory.run((0.5,), ("mono",)), bench_memory.to_markdown),
            "store": (lambda: bench_store.run((300,), 2), bench_store.to_markdown),
            "rescore": (lambda: bench_rescore.run((300,), (1,), 5), bench_rescore.to_markdown),
            "reports": (lambda: bench_reports.run((300,), 1), bench_reports.to_markdown),
            "coaching_browser": (lambda: bench_browser_coaching.run((300,), 1), bench_browser_coaching.to_markdown),
            "browser": (lambda: bench_browser.run((300,), 2), bench_browser.to_markdown),
        }
    return {
        "pipeline": (lambda: bench_pipeline.run(bench_pipeline.default_files(work)), bench_pipeline.to_markdown),
        "throughput": (lambda: bench_throughput.run(sample_calls()), bench_throughput.to_markdown),
        "memory": (lambda: bench_memory.run(), bench_memory.to_markdown),
        "store": (lambda: bench_store.run(), bench_store.to_markdown),
        "rescore": (lambda: bench_rescore.run(), bench_rescore.to_markdown),
        "reports": (lambda: bench_reports.run(), bench_reports.to_markdown),
        "coaching_browser": (lambda: bench_browser_coaching.run(), bench_browser_coaching.to_markdown),
        "browser": (lambda: bench_browser.run(), bench_browser.to_markdown),
    }


RENDER = {"pipeline": bench_pipeline.to_markdown, "throughput": bench_throughput.to_markdown,
          "memory": bench_memory.to_markdown, "store": bench_store.to_markdown,
          "rescore": bench_rescore.to_markdown, "reports": bench_reports.to_markdown,
          "coaching_browser": bench_browser_coaching.to_markdown, "browser": bench_browser.to_markdown}


def render(result: dict[str, Any]) -> str:
    """The markdown for every section in `result`, in the usual order, each with the date it ran."""
    parts = []
    for name in SECTIONS:
        sec = result["sections"].get(name)
        if sec is None:
            continue
        if "error" in sec:
            parts.append(f"**{name}**: failed ({sec['error']})\n")
            continue
        ran = sec.get("machine", {}).get("date", "")
        parts.append(RENDER[name](sec) + (f"\n_{name}: ran {ran}, {sec.get('seconds', 0) / 60:.0f} min, load average "
                                          f"at start {sec.get('machine', {}).get('load_avg_1m')}_\n"))
    m = result["machine"]
    return (
        f"Benchmarks on: {machine_line(m)}. Ratios are measured in the same run; absolute seconds depend on the "
        "machine and on whatever else was running.\n\n" + "\n".join(parts)
    )


def run(only: tuple[str, ...] = SECTIONS, quick: bool = False, out_dir: Path = RESULTS) -> dict[str, Any]:
    """Run the `only` sections; with a subset, the other sections of an earlier result file are kept."""
    name = "quick" if quick else "latest"
    path = out_dir / f"{name}.json"
    result: dict[str, Any] = {"machine": machine(), "quick": quick, "sections": {}}
    if set(only) != set(SECTIONS) and path.exists():
        result["sections"] = json.loads(path.read_text()).get("sections", {})
    with tempfile.TemporaryDirectory(prefix="callqa-bench-") as work:
        for sec, (fn, _) in _sections(quick, Path(work)).items():
            if sec not in only:
                continue
            t0 = time.perf_counter()
            started = machine()
            try:
                res = fn()
                res["seconds"] = round(time.perf_counter() - t0, 1)
                res["machine"] = started
            except Exception as exc:  # one broken section must not lose the others
                res = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
            result["sections"][sec] = res
            print(f"[{sec}] {time.perf_counter() - t0:.0f} s", flush=True)
    md = render(result)
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
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
