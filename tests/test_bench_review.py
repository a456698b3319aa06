"""The review benchmark's harness (benchmarks/bench_review.py) on a tiny store: every read runs and
returns what a page needs, and the report names each row. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_review


def test_harness_on_300_calls(tmp_path: Path) -> None:
    res = bench_review.run((300,), repeats=1, work=tmp_path, reviewed_calls=3)
    size, = res["sizes"]
    assert size["calls"] == 300 and size["index_rows"] > 0 and size["queue_added"] > 0 and size["reviewed"] == 3
    names = [r["query"] for r in size["rows"]]
    assert names[0] == bench_review.FLOOR and "search: rare name 'sahin'" in names and len(names) == len(set(names))
    assert all(r["n"] == 1 and r["p50_ms"] > 0 for r in size["rows"])
    md = bench_review.to_markdown(res)
    assert all(n in md for n in names) and "index" in md
    assert not list(tmp_path.glob("review_300*"))  # the store is removed afterwards


def test_reads_answer_what_a_page_needs(tmp_path: Path) -> None:
    import random

    db = tmp_path / "r.duckdb"
    bench_review.prepare(db, 300, reviewed_calls=2)
    reads = bench_review.reads(db, 300, random.Random(1))
    assert reads["queue: a reviewer's list"]()
    page = reads["search: rare name 'sahin'"]()
    assert page.total > 0 and all(h.text.endswith("ŞAHİN Bey") for hits in page.hits.values() for h in hits)
    assert reads["search: no match"]().total == 0
    assert reads["call: timeline"]()[0].who == "AI"
