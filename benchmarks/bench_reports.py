"""Coaching reports (an agent-month, HTML, PDF, CSV, at 100k calls) and the Agents and Teams pages at 10k and 100k.

The store is the store benchmark's (`bench_store.build_store`: 60 agents, calls 37 s apart from
2026-01-01, so one agent has ~1,200 calls in January at 100k), with team t1 = agents A000..A009
(the agent's comparison line). Each row times `qa.coaching.generate.generate` end to end (query,
reviews, figures, charts, template, WeasyPrint, file, audit row), warm (after one run in the same
process), p50 over the repeats; the baseline, measured in the same run, is the store's floor read
(open read-only, one row, close). The first run in a process also pays the imports (matplotlib,
WeasyPrint), shown as "cold". The Agents and Teams coaching pages are timed as the store benchmark
times pages (Streamlit's AppTest runs the page script, caches cleared; the browser's own rendering is
in `bench_browser_coaching`). 40 reviews on team t1's January calls send the figures through the
reviewed-score path.

    python -m benchmarks.bench_reports               # pages at 10k and 100k calls, reports at 100k
    python -m benchmarks.bench_reports --calls 2000 --repeats 2
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from benchmarks import bench_store
from benchmarks.common import percentiles, ratio, sized_main, table, timed


REVIEWS = 40  # reviews of team t1's calls in January, so the figures go through the reviewed-score path


def _prepare(db: Path, n_calls: int) -> dict:
    from qa.access.directory import Directory
    from qa.reviews import ReviewStore
    from qa.store import Store

    built = bench_store.build_store(db, n_calls)
    directory = Directory(db)
    for k in range(10):
        directory.add(f"a{k}@x", "agent", agent_id=f"A{k:03d}", teams=["t1"])
    _, rubric_id, version = bench_store._items()
    calls = Store(db).query("""SELECT c.call_id FROM calls c JOIN call_scores s USING (call_id) WHERE c.agent_id < 'A010'
        AND c.started_at < '2026-02-01' ORDER BY c.call_id LIMIT ?""", [REVIEWS])
    reviews = ReviewStore(db)
    for n, (call_id,) in enumerate(calls):
        reviews.save(call_id, rubric_id, version, "empathy", "fail" if n % 2 else "pass", "Bench Reviewer", "bench")
    return built


def run_size(n_calls: int, repeats: int, reports: bool) -> list[dict]:
    """The page script runs (both pages) at `n_calls`; with `reports`, the report timings too."""
    from qa.access.model import LOCAL_ADMIN

    rows: list[dict] = []

    def row(what: str, samples: list[float], **extra) -> None:
        rows.append({"calls": n_calls, "what": what, **percentiles(samples), **extra})

    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "calls.duckdb"
        _prepare(db, n_calls)
        floor = []
        for _ in range(repeats):
            with timed() as t:
                bench_store._floor_read(db)
            floor.append(t.seconds)
        row(bench_store.FLOOR, floor)
        month = {"since": date(2026, 1, 1), "until": date(2026, 1, 31)}
        if reports:
            with timed() as cold:
                from qa.coaching.generate import generate

                done = generate(db, LOCAL_ADMIN, "html", Path(work) / "cold.html", agent="A001", **month)
            row("agent-month HTML (cold: first in the process)", [cold.seconds], month_calls=len(done.data.calls))
            for fmt in ("html", "pdf", "csv"):
                samples = []
                for i in range(repeats):
                    with timed() as t:
                        generate(db, LOCAL_ADMIN, fmt, Path(work) / f"r{i}.{fmt}", agent="A001", **month)
                    samples.append(t.seconds)
                row(f"agent-month {fmt.upper()}", samples, month_calls=len(done.data.calls))
            samples = []
            for i in range(repeats):
                with timed() as t:
                    team = generate(db, LOCAL_ADMIN, "pdf", Path(work) / f"t{i}.pdf", team="t1", **month)
                samples.append(t.seconds)
            row("team-month PDF (10 agents)", samples, month_calls=len(team.data.calls))
        # the pages as the local admin (auth none), caches cleared: Agents opens on the first agent, Teams on
        # team t1, each over the 28 days up to the latest call
        for page in ("agents", "teams"):
            samples = [bench_store._page_seconds(db, f"views/{page}.py").seconds for _ in range(repeats)]
            row(f"page: {page.capitalize()} (AppTest script run, cold cache)", samples)
    base = rows[0]["p50_ms"]
    for r in rows:
        r["x_floor"] = ratio(r["p50_ms"], base)
    return rows


def run(sizes: tuple[int, ...] = (10_000, 100_000), repeats: int = 3) -> dict:
    """Pages at every size; the reports at the largest (the 100k target)."""
    rows = [r for n in sizes for r in run_size(n, repeats, reports=n == max(sizes))]
    return {"sizes": list(sizes), "repeats": repeats, "reviews": REVIEWS, "rows": rows}


def to_markdown(res: dict) -> str:
    return (f"Coaching reports and pages (store benchmark's data, {res['reviews']} reviews on team t1's calls), "
            f"p50 of {res['repeats']} runs\n\n"
            + table(res["rows"], ["calls", "what", "month_calls", "p50_ms", "max_ms", "x_floor"],
                    ["calls", "what", "calls in the month", "p50 ms", "max ms", "x floor"]))


def main(argv: list[str] | None = None) -> int:
    return sized_main("bench_reports", __doc__, run, to_markdown, argv)


if __name__ == "__main__":
    raise SystemExit(main())
