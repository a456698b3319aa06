"""Contact-centre KPIs at 100k calls: the refresh after a batch, and the reads a report or page makes.

The store is the store benchmark's (`bench_store.build_store`: 60 agents, calls 37 s apart from
2026-01-01, about three calls per customer, a survey score on one call in five), plus what the
KPIs read that it leaves out: hold, dead-air and longest-latency metrics per call and an
(unannounced on every other) hold event on every third call. Team t1 = agents A000..A009.
Rows, p50 of the repeats after a warm-up; the baselines, measured in the same run, are the
store's floor read (open read-only, one row, close) and one scan of the inputs the refresh reads
(calls, call_metrics, call_events, customer utterances: counted, not joined).

    python -m benchmarks.bench_kpi                  # 100k calls
    python -m benchmarks.bench_kpi --calls 2000 --repeats 2
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

from benchmarks import bench_store
from benchmarks.common import machine, machine_line, percentiles, ratio, table, timed, write_result

AS_OF = datetime(2026, 6, 1, tzinfo=timezone.utc)
SCAN = """SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM call_metrics),
                 (SELECT count(*) FROM call_events), (SELECT count(*) FROM utterances WHERE speaker_role = 'customer')"""


def add_kpi_inputs(db: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("""INSERT INTO call_metrics SELECT c.call_id, m.name,
                           CASE m.name WHEN 'hold_total_s' THEN CASE WHEN hash(c.call_id) % 3 = 0 THEN 30 + hash(c.call_id) % 60 ELSE 0 END
                                       WHEN 'dead_air_longest_s' THEN hash(c.call_id) % 40
                                       ELSE 2 + hash(c.call_id) % 9 END
                       FROM calls c, (SELECT unnest(['hold_total_s', 'dead_air_longest_s',
                                                     'agent_response_latency_max_s']) AS name) m
                       WHERE c.status = 'ok'""")
        con.execute("""INSERT INTO call_events SELECT call_id, 0, 'hold', 60, 60 + 30 + hash(call_id) % 60,
                           CASE WHEN hash(call_id) % 2 = 0 THEN '{"announced": true}' ELSE '{"announced": false}' END
                       FROM calls WHERE status = 'ok' AND hash(call_id) % 3 = 0""")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _samples(fn, repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        with timed() as t:
            fn()
        out.append(t.seconds)
    return out


def run(n_calls: int, repeats: int) -> dict:
    import duckdb

    from qa.access.directory import Directory
    from qa.access.model import LOCAL_ADMIN
    from qa.access.repository import DuckDBRepository
    from qa.kpi.refresh import refresh
    from qa.kpi.summary import figures, kpi_block, rows_for

    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "calls.duckdb"
        built = bench_store.build_store(db, n_calls)
        add_kpi_inputs(db)
        team = tuple(f"A{k:03d}" for k in range(10))
        directory = Directory(db)
        for a in team:
            directory.add(f"{a.lower()}@x", "agent", agent_id=a, teams=["t1"])
        repo = DuckDBRepository(db)

        def scan():
            con = duckdb.connect(str(db), read_only=True)
            try:
                con.execute(SCAN).fetchall()
            finally:
                con.close()

        jan = (date(2026, 1, 1), date(2026, 1, 31))
        rows = [{"what": bench_store.FLOOR, **percentiles(_samples(lambda: bench_store._floor_read(db), repeats))},
                {"what": "floor: scan the refresh's inputs once", **percentiles(_samples(scan, repeats))}]
        with timed() as t:
            first = refresh(db)
        rows.append({"what": f"first refresh: {n_calls:,} calls, every row written", **percentiles([t.seconds])})
        rows.append({"what": "refresh again (after a batch or a delete; nothing changed: 0 rows written)",
                     **percentiles(_samples(lambda: refresh(db), repeats))})
        rows.append({"what": "agent-month: agent, team of 10, previous month (report / page section)",
                     **percentiles(_samples(lambda: kpi_block(repo, LOCAL_ADMIN, ("A001",), team, *jan,
                                                              "Europe/Istanbul", 30.0, AS_OF), repeats))})
        rows.append({"what": "team-month with each agent's figures",
                     **percentiles(_samples(lambda: kpi_block(repo, LOCAL_ADMIN, team, (), *jan, "Europe/Istanbul",
                                                              30.0, AS_OF, per_agent=True), repeats))})
        rows.append({"what": "all calls, one month (callqa kpi without --agent)",
                     **percentiles(_samples(lambda: figures(rows_for(repo, LOCAL_ADMIN, *jan, "Europe/Istanbul",
                                                                     AS_OF), 30.0), repeats))})
        month = figures(rows_for(repo, LOCAL_ADMIN, *jan, "Europe/Istanbul", AS_OF), 30.0)
    base = rows[0]["p50_ms"]
    for r in rows:
        r["x_floor"] = ratio(r["p50_ms"], base)
    return {"calls": n_calls, "build": built, "repeats": repeats, "rows": rows,
            "refresh": {"contacts": first.contacts, "first_contacts": first.first_contacts},
            "january": {"calls": month.calls, "fcr_pct": month.fcr_pct, "aht_s": month.aht_s,
                        "agreement_n": month.agreement.n, "mae": month.agreement.mae}}


def to_markdown(res: dict) -> str:
    return (f"Contact-centre KPIs, store of {res['calls']:,} calls ({res['refresh']['first_contacts']:,} first "
            f"contacts), p50 of {res['repeats']} runs\n\n"
            + table(res["rows"], ["what", "p50_ms", "max_ms", "x_floor"], ["what", "p50 ms", "max ms", "x floor"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="write bench_kpi.json/.md here")
    args = p.parse_args(argv)
    res = run(args.calls, args.repeats)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_kpi", res, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
