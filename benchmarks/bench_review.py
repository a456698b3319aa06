"""The review desk's reads and writes at 10k and 100k calls: queue, timeline, a save, filters and search.

The store is the store benchmark's synthetic one (`bench_store.build_store`, with its search
index); 1 % of the calls get a line with a Turkish name ("... ŞAHİN Bey") and the index is built
again, so a rare word and the filler's common words can both be searched. Users of every role
are added, the queue is filled with the default rules, and 50 calls get a review and a sign-off.
Each read is the call a page makes (`ReviewDesk`, `DuckDBRepository.find_calls` / `search`),
timed after a warm-up; the baseline, measured in the same run, is the floor of any read: open
the store read-only, fetch one row, close.

    python -m benchmarks.bench_review                 # 10k and 100k calls
    python -m benchmarks.bench_review --quick         # 300 calls (harness test)
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from benchmarks.bench_store import FLOOR, _floor_read, build_store, sizes_table
from benchmarks.common import machine, machine_line, percentiles, timed, write_result

TARGET_MS = 100.0  # each read's share of a 1 s click-to-rendered budget
REVIEWED = 50  # calls reviewed and signed off before the reads are timed


def prepare(db: Path, n_calls: int, seed: int = 7, reviewed_calls: int = REVIEWED) -> dict[str, Any]:
    """Store, names in 1 % of the calls, users, a filled queue, reviewed calls; returns build facts."""
    import duckdb

    from qa import text_index
    from qa.access.directory import Directory
    from qa.access.repository import DuckDBRepository
    from qa.review.desk import ReviewDesk

    with timed() as t:
        built = build_store(db, n_calls, seed)
    con = duckdb.connect(str(db))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("UPDATE utterances SET text = text || ' ŞAHİN Bey' WHERE hash(call_id) % 100 = 0 AND idx = 3")
        with timed() as ti:
            con.execute("BEGIN TRANSACTION")
            tokens = text_index.rebuild(con)
            con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    directory = Directory(db)
    directory.add("admin@x", "admin")
    directory.add("lead@x", "team_lead", teams=["t1"])
    directory.add("qa@x", "reviewer")
    directory.add("billing@x", "reviewer", queues=["billing"])
    for k in range(10):  # team t1: agents A000-A009 (a7@x is A007)
        directory.add(f"a{k}@x", "agent", agent_id=f"A{k:03d}", teams=["t1"])
    repo = DuckDBRepository(db)
    desk = ReviewDesk(repo)
    admin = directory.viewer("admin@x")
    with timed() as tf:
        filled = desk.fill(admin)
    qa = directory.viewer("qa@x")
    rng = random.Random(seed)
    mine = desk.queue(qa)
    reviewed = 0
    with timed() as tr:
        for e in mine[: min(reviewed_calls, len(mine))]:
            items = repo.item_results(qa, e.call_id)
            plain = items[~items["critical"].fillna(False).astype(bool)]
            if len(plain):
                desk.override(qa, e.call_id, str(plain["item_id"].iloc[rng.randrange(len(plain))]), "pass")
            desk.sign_off(qa, e.call_id, "agree")
            reviewed += 1
    return {**built, "build_s": round(t.seconds, 1), "index_rows": tokens, "index_s": round(ti.seconds, 1),
            "queue_added": filled.added, "fill_s": round(tf.seconds, 2), "reviewed": reviewed,
            "review_s_each": round(tr.seconds / max(reviewed, 1), 3)}


def reads(db: Path, n_calls: int, rng: random.Random) -> dict[str, Callable[[], Any]]:
    """Name -> zero-argument callable: what the queue, call and calls pages ask for."""
    from qa.access.directory import Directory
    from qa.access.query import CallQuery
    from qa.access.repository import DuckDBRepository
    from qa.review.desk import ReviewDesk

    directory = Directory(db)
    admin, qa, lead, agent = (directory.viewer(i) for i in ("admin@x", "qa@x", "lead@x", "a7@x"))
    repo = DuckDBRepository(db)
    desk = ReviewDesk(repo)
    queue = [e.call_id for e in desk.queue(qa)]

    def queued() -> str:
        return queue[rng.randrange(len(queue))]

    def find(viewer, **kw):
        return lambda: repo.find_calls(viewer, CallQuery(**kw))

    def save() -> Any:  # a reviewer's "save a review": a non-critical item of a queued call set to pass
        call = queued()
        items = repo.item_results(qa, call)
        plain = items[~items["critical"].fillna(False).astype(bool)]
        return desk.override(qa, call, str(plain["item_id"].iloc[0]), "pass") if len(plain) else None

    return {
        FLOOR: lambda: _floor_read(db),
        "queue: a reviewer's list": lambda: desk.queue(qa),
        "queue: next/previous": lambda: desk.neighbours(qa, queued()),
        "call: timeline": lambda: desk.timeline(qa, queued()),
        "call: auto-fail note": lambda: desk.auto_fail_note(qa, queued()),
        "call: item results (effective)": lambda: repo.item_results(qa, queued()),
        "write: save a review (item results + desk.override)": save,
        "write: sign off (desk.sign_off)": lambda: desk.sign_off(qa, queued(), "agree"),
        "calls: first page, no filter": find(admin),
        "calls: failed item": find(admin, failed_item="empathy"),
        "calls: queue + direction": find(admin, queue=["billing"], direction=["inbound"]),
        "calls: reviewed": find(admin, reviewed="reviewed"),
        "calls: unreviewed": find(admin, reviewed="unreviewed"),
        "calls: in my queue, to review": find(qa, review_status="to_review"),
        "calls: roles uncertain": find(admin, roles_uncertain=True),
        "calls: profile": find(admin, profile=["angry"]),
        "calls: sentiment trend": find(admin, sentiment_trend=["worsened"]),
        "calls: agent name 'agent 00' (folded)": find(admin, agent="agent 00"),
        "search: rare name 'sahin'": find(admin, text="sahin"),
        "search: 'ŞAHİN bey' (two words)": find(admin, text="ŞAHİN bey"),
        "search: common word 'merhaba'": find(admin, text="merhaba"),
        "search: prefix 'sipar'": find(admin, text="sipar"),
        "search: no match": find(admin, text="zzzq"),
        "search: team lead, 'sahin'": find(lead, text="sahin"),
        "search: agent, 'merhaba'": find(agent, text="merhaba"),
        "search(): utterance hits 'sahin'": lambda: repo.search(admin, "sahin"),
    }


def bench_size(n_calls: int, work: Path, repeats: int = 9, seed: int = 7, reviewed_calls: int = REVIEWED) -> dict[str, Any]:
    db = work / f"review_{n_calls}.duckdb"
    for f in work.glob(f"review_{n_calls}*"):
        f.unlink()
    built = prepare(db, n_calls, seed, reviewed_calls)
    rng = random.Random(seed)
    rows = []
    for name, fn in reads(db, n_calls, rng).items():
        fn()  # warm-up: imports, rubric parsing
        times = []
        for _ in range(repeats):
            with timed() as t:
                fn()
            times.append(t.seconds)
        rows.append({"query": name, **percentiles(times)})
    for f in work.glob(f"review_{n_calls}*"):
        f.unlink()
    return {"calls": n_calls, **built, "rows": rows}


def run(sizes: tuple[int, ...] = (10_000, 100_000), repeats: int = 9, work: Path | None = None,
        reviewed_calls: int = REVIEWED) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="callqa-review-") if work is None else None
    work = Path(tmp.name) if tmp else Path(work)
    try:
        out = []
        for n in sizes:
            res = bench_size(n, work, repeats, reviewed_calls=reviewed_calls)
            print(f"  {n} calls: built in {res['build_s']:.0f} s, index {res['index_rows']:,} rows in "
                  f"{res['index_s']:.0f} s, queue {res['queue_added']} calls", file=sys.stderr)
            out.append(res)
        return {"sizes": out, "repeats": repeats}
    finally:
        if tmp:
            tmp.cleanup()


def to_markdown(res: dict[str, Any]) -> str:
    sizes = res["sizes"]
    facts = "; ".join(f"{s['calls']:,} calls: index {s['index_rows']:,} rows built in {s['index_s']} s, queue fill "
                      f"{s['fill_s']} s ({s['queue_added']} calls), one review + sign-off {s['review_s_each']} s"
                      for s in sizes)
    return (f"**Review desk reads** ({res['repeats']} runs each after a warm-up)\n\n"
            + sizes_table(sizes, TARGET_MS, f"over {TARGET_MS:.0f} ms") + f"\n\n{facts}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--quick", action="store_true", help="300 calls, 2 runs each")
    p.add_argument("--out", type=Path, default=None, help="write bench_review.json/.md here")
    args = p.parse_args(argv)
    sizes = (300,) if args.quick else tuple(int(x) for x in args.sizes.split(","))
    res = run(sizes, 2 if args.quick else args.repeats, reviewed_calls=5 if args.quick else REVIEWED)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_review", res, md, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
