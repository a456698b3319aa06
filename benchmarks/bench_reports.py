"""Coaching reports at 100k calls: one agent-month report, HTML and PDF, what `callqa report` waits for.

The store is the store benchmark's (`bench_store.build_store`: 60 agents, calls 37 s apart from
2026-01-01, so one agent has ~1,200 calls in January at 100k), with team t1 = agents A000..A009
(the agent's comparison line). Each row times `qa.coaching.generate.generate` end to end (query,
reviews, figures, charts, template, WeasyPrint, file, audit row), warm (after one run in the same
process), p50 over the repeats; the baseline, measured in the same run, is the store's floor read
(open read-only, one row, close). The first run in a process also pays the imports (matplotlib,
WeasyPrint), shown as "cold". The Coaching page is timed as the store benchmark times pages
(Streamlit's AppTest runs the page script; the browser's own rendering is not in it).

    python -m benchmarks.bench_reports               # 100k calls
    python -m benchmarks.bench_reports --calls 2000 --repeats 2
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from benchmarks import bench_store
from benchmarks.common import machine, machine_line, percentiles, ratio, table, timed, write_result


def run(n_calls: int, repeats: int) -> dict:
    from qa.access.directory import Directory
    from qa.access.model import LOCAL_ADMIN

    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "calls.duckdb"
        built = bench_store.build_store(db, n_calls)
        directory = Directory(db)
        for k in range(10):
            directory.add(f"a{k}@x", "agent", agent_id=f"A{k:03d}", teams=["t1"])
        rows = []
        floor = []
        for _ in range(repeats):
            with timed() as t:
                bench_store._floor_read(db)
            floor.append(t.seconds)
        rows.append({"what": bench_store.FLOOR, **percentiles(floor)})
        with timed() as cold:
            from qa.coaching.generate import generate

            done = generate(db, LOCAL_ADMIN, "html", Path(work) / "cold.html", agent="A001", since=date(2026, 1, 1),
                            until=date(2026, 1, 31))
        calls = len(done.data.calls)
        rows.append({"what": "agent-month HTML (cold: first in the process)", **percentiles([cold.seconds])})
        for fmt in ("html", "pdf", "csv"):
            samples = []
            for i in range(repeats):
                with timed() as t:
                    generate(db, LOCAL_ADMIN, fmt, Path(work) / f"r{i}.{fmt}", agent="A001", since=date(2026, 1, 1),
                             until=date(2026, 1, 31))
                samples.append(t.seconds)
            rows.append({"what": f"agent-month {fmt.upper()}", **percentiles(samples)})
        samples = []
        for i in range(repeats):
            with timed() as t:
                generate(db, LOCAL_ADMIN, "pdf", Path(work) / f"t{i}.pdf", team="t1", since=date(2026, 1, 1),
                         until=date(2026, 1, 31))
            samples.append(t.seconds)
        rows.append({"what": "team-month PDF (10 agents)", **percentiles(samples)})
        # the Coaching page (auth none: the local admin; default subject = the first agent, last 28 days)
        samples = [bench_store._page_seconds(db, "views/coaching.py").seconds for _ in range(repeats)]
        rows.append({"what": "page: Coaching (AppTest script run, cold cache)", **percentiles(samples)})
    base = rows[0]["p50_ms"]
    for r in rows:
        r["x_floor"] = ratio(r["p50_ms"], base)
    return {"calls": n_calls, "agent_month_calls": calls, "build": built, "repeats": repeats, "rows": rows}


def to_markdown(res: dict) -> str:
    return (f"Coaching reports, store of {res['calls']:,} calls (agent-month: {res['agent_month_calls']} calls), "
            f"p50 of {res['repeats']} runs\n\n"
            + table(res["rows"], ["what", "p50_ms", "max_ms", "x_floor"], ["report", "p50 ms", "max ms", "x floor"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="write bench_reports.json/.md here")
    args = p.parse_args(argv)
    res = run(args.calls, args.repeats)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_reports", res, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
