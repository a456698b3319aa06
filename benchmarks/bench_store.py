"""Store and dashboard queries at 10k and 100k calls: what a user waits for, p50 and max.

A DuckDB file is built with the store's own DDL (`Store.init`) and filled with bulk
`INSERT ... SELECT` from DuckDB's `range()`: per call ~40 utterances and ~40 speech turns, a
customer id (about three calls per customer), a survey score on one call in five,
the 8 items of the real `tr_inbound` rubric and one score; agents, queues, dates, bands
and outcomes vary. Texts are made-up filler (no personal data); the `words` table is left
empty (the dashboard never reads it). Then the dashboard's data functions
(`dashboards/data.py`), the store's look-ups and whole dashboard pages (Streamlit's headless
`AppTest`, the page script run as a browser session would run it) go against it, each
repeated. The baseline, measured in the same run, is the floor of any read: open the file
read-only, fetch one row, close. Each row prints its p50 as a multiple of that floor.

    python -m benchmarks.bench_store                 # 10k and 100k calls
    python -m benchmarks.bench_store --quick         # 300 calls (harness test)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from benchmarks.common import machine, machine_line, percentiles, ratio, table, timed, write_result

UTTERANCES_PER_CALL = 40
TURNS_PER_CALL = 40
AGENTS = 60
SLOW_MS = 1000.0

_FILLER = [
    "merhaba size nasıl yardımcı olabilirim", "siparişimin durumunu öğrenmek istiyorum",
    "bir saniye kontrol ediyorum", "anlıyorum kusura bakmayın", "kargo yarın teslim edilecek",
    "başka bir konuda yardımcı olabilir miyim", "teşekkür ederim iyi günler",
    "thank you for calling how can I help", "I would like to check my order", "let me look into that",
]


def _items() -> list[tuple[str, str, bool]]:
    """(section, item, critical) of the real tr_inbound rubric, so titles resolve as in production."""
    from qa.rubric.schema import find_rubric, load_rubric

    from qa.config import Settings

    rubric = load_rubric(find_rubric("tr_inbound", Settings().rubric_dir))
    return [(s.id, i.id, bool(i.critical)) for s in rubric.sections for i in s.items], rubric.id, str(rubric.version)


def build_store(path: Path, n_calls: int, seed: int = 7) -> dict[str, Any]:
    """A store at `path` with `n_calls` calls and their rows; returns row counts and build seconds."""
    import duckdb

    from qa import text_index
    from qa.access import day_totals
    from qa.config import display_timezone
    from qa.store import Store

    items, rubric_id, version = _items()
    Store(path).init()
    con = duckdb.connect(str(path))
    t0 = time.perf_counter()
    try:
        con.execute(f"SELECT setseed({seed / 100})")
        filler = "[" + ", ".join(f"'{t}'" for t in _FILLER) + "]"
        con.execute(f"""
            INSERT INTO calls SELECT
              printf('call-%07d', i), printf('/calls/2026/call-%07d.wav', i), sha256(printf('audio-%d', i)),
              printf('A%03d', i % {AGENTS}), printf('Agent %03d', i % {AGENTS}), printf('C%06d', hash(i) % {max(n_calls // 3, 1)}),
              TIMESTAMPTZ '2026-01-01 08:00:00+00' + to_seconds(i * 37), CASE WHEN i % 5 = 0 THEN 'outbound' ELSE 'inbound' END,
              ['billing', 'sales', 'support'][1 + i % 3], 60 + (hash(i) % 900), CASE WHEN i % 4 = 0 THEN 'en' ELSE 'tr' END,
              0.95, CASE WHEN i % 3 = 0 THEN 1 ELSE 2 END, 8000, 'WAV/PCM_16', 'stereo-channels', 'metadata', 1.0,
              'bundled:base', CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'ok' END,
              CASE WHEN i % 50 = 0 THEN 'cannot decode audio' END, CASE WHEN i % 50 = 0 THEN 'decode' END,
              -- a survey score on one call in five; a customer mood to estimate satisfaction from (KPIs)
              CASE WHEN i % 5 = 0 THEN printf('{{"direction": "inbound", "csat": %d}}', 1 + hash(i * 3) % 5)
                   ELSE '{{"direction": "inbound"}}' END, '{{"words": 420}}', now(),
              printf('{{"customer_trajectory": "%s", "agent_tone": "neutral", "customer_end": %.2f}}',
                     ['improved', 'steady', 'worsened'][1 + (hash(i * 5) % 3)::BIGINT], ((hash(i * 11) % 200)::INTEGER - 100) / 100.0)
            FROM range({n_calls}) t(i)""")
        con.execute(f"""
            INSERT INTO utterances SELECT
              printf('call-%07d', c.i), u.j, CASE WHEN u.j % 2 = 0 THEN 'ch0' ELSE 'ch1' END,
              CASE WHEN u.j % 2 = 0 THEN 'agent' ELSE 'customer' END, u.j * 7.5, u.j * 7.5 + 6.0,
              {filler}[1 + (hash(c.i * 100 + u.j) % {len(_FILLER)})::BIGINT], 0.8,
              ['negative', 'neutral', 'positive'][1 + (hash(c.i * 7 + u.j) % 3)::BIGINT], 0.8,
              ((hash(c.i * 7 + u.j) % 3)::INTEGER - 1) * 0.7
            FROM range({n_calls}) c(i), range({UTTERANCES_PER_CALL}) u(j) WHERE c.i % 50 <> 0""")
        con.execute(f"""
            INSERT INTO call_metrics SELECT printf('call-%07d', c.i), m.name, (hash(c.i * 13 + m.k) % 1000) / 10.0
            FROM range({n_calls}) c(i),
                 (SELECT unnest(['talk_ratio_agent', 'overtalk_s', 'interruptions_by_agent', 'dead_air_total_s',
                                 'hold_count', 'agent_wpm', 'customer_wpm', 'agent_response_latency_mean_s']) AS name,
                         generate_subscripts(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 1) AS k) m
            WHERE c.i % 50 <> 0""")
        con.execute(f"""
            INSERT INTO call_profiles SELECT printf('call-%07d', i),
              ['angry', 'hasty', 'confused', 'loyal', 'sceptical'][1 + (hash(i) % 5)::BIGINT], 0.7, '[]',
              'Recommended handling text for this kind of customer.'
            FROM range({n_calls}) t(i) WHERE i % 50 <> 0 AND i % 3 = 0""")
        con.execute(f"""
            INSERT INTO speech_turns SELECT
              printf('call-%07d', c.i), u.j, CASE WHEN u.j % 2 = 0 THEN 'ch0' ELSE 'ch1' END,
              CASE WHEN u.j % 2 = 0 THEN 'agent' ELSE 'customer' END, u.j * 7.5, u.j * 7.5 + 6.5
            FROM range({n_calls}) c(i), range({TURNS_PER_CALL}) u(j) WHERE c.i % 50 <> 0""")
        con.execute(
            "CREATE TEMP TABLE rubric_items (k INTEGER, section_id VARCHAR, item_id VARCHAR, critical BOOLEAN)"
        )
        con.executemany("INSERT INTO rubric_items VALUES (?, ?, ?, ?)", [[k, *it] for k, it in enumerate(items)])
        con.execute(f"""
            INSERT INTO item_results SELECT
              printf('call-%07d', c.i), '{rubric_id}', '{version}', r.section_id, r.item_id,
              ['pass', 'pass', 'pass', 'fail', 'na'][1 + (hash(c.i * 31 + r.k) % 5)::BIGINT], 1.0, 1.0, r.critical,
              'phrases', 0.8, 'matched', 'filler evidence', 'agent', 10.0, 12.0, 'auto', NULL, now()
            FROM range({n_calls}) c(i), rubric_items r WHERE c.i % 50 <> 0""")
        con.execute(f"""
            INSERT INTO call_scores SELECT
              printf('call-%07d', i), '{rubric_id}', '{version}', 40 + (hash(i) % 60), i % 23 = 0,
              CASE WHEN hash(i) % 60 < 20 THEN 'needs_coaching' WHEN hash(i) % 60 < 45 THEN 'meets' ELSE 'exceeds' END,
              '', '{{"opening": 80.0}}', now()
            FROM range({n_calls}) t(i) WHERE i % 50 <> 0""")
        con.execute("""INSERT INTO failures SELECT source_path, content_sha256, call_id, error_stage, error, now()
                       FROM calls WHERE status = 'failed'""")
        text_index.rebuild(con)  # the search index, as `Store.init` builds it for an upgraded store
        day_totals.refresh_in(con, display_timezone())  # the coaching day totals, as the end of a batch builds them
        con.execute("CHECKPOINT")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("calls", "utterances", "speech_turns", "item_results", "call_scores")}
    finally:
        con.close()
    return {"counts": counts, "build_s": round(time.perf_counter() - t0, 2), "size_mb": round(path.stat().st_size / 2**20, 1)}


def _call_result(call_id: str):
    """A realistic `CallResult` (40 utterances, 8 items) for timing one `save_call`."""
    from qa.asr import Word
    from qa.metadata import CallMetadata
    from qa.pipeline import CallResult
    from qa.rubric.engine import CallScore, ItemResult
    from qa.transcript import Utterance

    items, rubric_id, version = _items()
    utts = []
    for j in range(UTTERANCES_PER_CALL):
        text = _FILLER[j % len(_FILLER)]
        words = [Word(j * 7.5 + k * 0.4, j * 7.5 + k * 0.4 + 0.3, w, 0.9, j % 2) for k, w in enumerate(text.split())]
        utts.append(Utterance(j, f"ch{j % 2}", "agent" if j % 2 == 0 else "customer", j * 7.5, j * 7.5 + 6, text, 0.9, words))
    results = [ItemResult(s, i, "pass", 1.0, 1.0, c, "phrases", "matched", "filler", "agent", 1.0, 2.0, 0.9)
               for s, i, c in items]
    return CallResult(
        call_id=call_id, source_path=Path(f"/calls/{call_id}.wav"), content_sha256="f" * 64,
        metadata=CallMetadata(call_id=call_id, agent_id="A001", direction="inbound"), duration_s=300.0, channels=2,
        source_sample_rate=8000, codec="WAV/PCM_16", language="tr", language_probability=1.0,
        asr_model="bundled:base", diarization_method="stereo-channels", role_method="metadata", role_confidence=1.0,
        utterances=utts, activity=[(f"ch{j % 2}", "agent", j * 7.5, j * 7.5 + 6.5) for j in range(TURNS_PER_CALL)],
        pii=[], item_results=results, call_score=CallScore(rubric_id, version, 87.5, False, "meets", "", {"opening": 100.0}),
    )


def queries(db: Path, n_calls: int, rng: random.Random) -> dict[str, Callable[[], Any]]:
    """Name -> zero-argument callable, for every read a dashboard page or the ingest path makes."""
    from dashboards import conversation, data
    from qa.access.model import LOCAL_ADMIN as ADMIN
    from qa.access.model import Scope, Viewer
    from qa.store import Store

    agent = Viewer("a7", "agent", Scope(agent_ids=("A007",)))  # the scope in SQL: what an agent's list costs

    store = Store(db)
    calls = data.list_calls(db, ADMIN)  # filter_calls/call_totals work on this frame, as the page does

    def some_call() -> str:
        i = rng.randrange(n_calls)
        return f"call-{i + 1 if i % 50 == 0 else i:07d}"  # an ok call

    return {
        FLOOR: lambda: _floor_read(db),
        "store_status": lambda: data.store_status(db, ADMIN),
        "list_calls": lambda: data.list_calls(db, ADMIN),
        "list_calls (one agent's scope)": lambda: data.list_calls(db, agent),
        "filter_calls (agent + score)": lambda: data.filter_calls(
            calls, data.CallFilter(agents=["A007"], min_score=50.0)),
        "filter_calls (text)": lambda: data.filter_calls(calls, data.CallFilter(text="call-00012")),
        "call_totals": lambda: data.call_totals(calls),
        "agent_summary": lambda: data.agent_summary(db, ADMIN),
        "item_pass_rates (all)": lambda: data.item_pass_rates(db, ADMIN),
        "item_pass_rates (one agent)": lambda: data.item_pass_rates(db, ADMIN, "A007"),
        "get_call": lambda: data.get_call(db, ADMIN, some_call()),
        "get_utterances": lambda: data.get_utterances(db, ADMIN, some_call()),
        "get_scores": lambda: data.get_scores(db, ADMIN, some_call()),
        "get_item_results": lambda: data.get_item_results(db, ADMIN, some_call()),
        "failure_log": lambda: data.failure_log(db, ADMIN),
        "get_conversation": lambda: conversation.get_conversation(db, ADMIN, some_call()),
        "profile_coaching (all)": lambda: conversation.profile_coaching(db, ADMIN),
        "profile_coaching (one agent)": lambda: conversation.profile_coaching(db, ADMIN, "A007"),
        "Store.find_by_sha": lambda: store.find_by_sha("0" * 64),
        "Store.find_call": lambda: store.find_call(some_call()),
        "page: Calls (cold)": lambda: _page_seconds(db, None),
        "page: Agents (cold)": lambda: _page_seconds(db, "views/agents.py"),
        "page: Call (cold)": lambda: _page_seconds(db, "views/call.py", some_call()),
    }


FLOOR = "floor: open read-only, one row, close"
APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"


@dataclass
class PageSeconds:
    """What a page callable returns: the seconds of the page run alone (set-up excluded)."""

    seconds: float


def _floor_read(db: Path) -> None:
    """The least any dashboard read pays: a read-only connection, one fetched row, close."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SELECT call_id FROM calls LIMIT 1").fetchall()
    finally:
        con.close()


def _page_seconds(db: Path, page: str | None, call_id: str | None = None) -> PageSeconds:
    """Run the dashboard headless on `db` and time one page's script run, caches cold (Calls is the default).

    Another page is reached the way a user reaches it: the app starts on Calls, then switches
    (with `call_id` in the URL for the Call page); only that last run is timed.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["CALLQA_DB"] = str(db)
    at = AppTest.from_file(str(APP), default_timeout=300)
    if page is not None:
        at.run()
        at.switch_page(page)
        if call_id:
            at.query_params["call_id"] = call_id
    st.cache_data.clear()  # cold: what the first reader waits for after the cache's TTL or a batch
    with timed() as t:
        at.run()
    if at.exception:
        raise RuntimeError(f"page {page or 'calls'} raised: {[e.value for e in at.exception]}")
    return PageSeconds(t.seconds)


def bench_size(n_calls: int, work: Path, repeats: int = 5, seed: int = 7) -> dict[str, Any]:
    """Build a store of `n_calls` calls in `work` and time every query `repeats` times (plus one warm-up)."""
    from qa.store import Store

    db = work / f"store_{n_calls}.duckdb"
    db.unlink(missing_ok=True)
    built = build_store(db, n_calls, seed)
    rng = random.Random(seed)
    rows = []
    for name, fn in queries(db, n_calls, rng).items():
        fn()  # warm-up: first-call imports and rubric parsing are not what a user waits for twice
        times = []
        for _ in range(repeats):
            with timed() as t:
                out = fn()
            times.append(out.seconds if isinstance(out, PageSeconds) else t.seconds)
        rows.append({"query": name, **percentiles(times)})
    store = Store(db)
    times = []
    for k in range(repeats):
        result = _call_result(f"bench-save-{k}")
        with timed() as t:
            store.save_call(result)
        times.append(t.seconds)
    rows.append({"query": "Store.save_call (40 utterances)", **percentiles(times)})
    db.unlink(missing_ok=True)
    return {"calls": n_calls, **built, "rows": rows}


def run(sizes: tuple[int, ...] = (10_000, 100_000), repeats: int = 5, work: Path | None = None) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="callqa-store-") if work is None else None
    work = Path(tmp.name) if tmp else Path(work)
    try:
        out = []
        for n in sizes:
            res = bench_size(n, work, repeats)
            print(f"  {n} calls: built in {res['build_s']:.0f} s ({res['size_mb']} MB)", file=sys.stderr)
            out.append(res)
        return {"sizes": out, "repeats": repeats}
    finally:
        if tmp:
            tmp.cleanup()


def sizes_table(sizes: list[dict[str, Any]], slow_ms: float, slow_label: str = "slow") -> str:
    """Markdown: one row per query, p50 / max / p50 over the floor for each store size; slow rows in bold."""
    names = [r["query"] for r in sizes[0]["rows"]]
    floors = {s["calls"]: next((r["p50_ms"] for r in s["rows"] if r["query"] == FLOOR), None) for s in sizes}
    rows = []
    for name in names:
        row: dict[str, Any] = {"query": name}
        for s in sizes:
            hit = next(r for r in s["rows"] if r["query"] == name)
            row[f"p50_{s['calls']}"] = hit["p50_ms"]
            row[f"max_{s['calls']}"] = hit["max_ms"]
            row[f"x_{s['calls']}"] = ratio(hit["p50_ms"], floors[s["calls"]] or 0.0)
            if hit["p50_ms"] > slow_ms and name != FLOOR:
                row["query"] = f"**{name}** ({slow_label})"
        rows.append(row)
    cols = ["query"] + [f"{k}_{s['calls']}" for s in sizes for k in ("p50", "max", "x")]
    heads = ["query"] + [h.format(s["calls"]) for s in sizes
                         for h in ("p50 ms @ {:,}", "max ms @ {:,}", "p50 / floor @ {:,}")]
    return table(rows, cols, heads)


def to_markdown(res: dict[str, Any]) -> str:
    sizes = res["sizes"]
    built = "; ".join(
        f"{s['calls']:,} calls = {s['counts']['utterances']:,} utterances, {s['counts']['item_results']:,} item "
        f"results, {s['size_mb']} MB" for s in sizes
    )
    return (f"**Store and dashboard queries** ({res['repeats']} runs each after a warm-up; {built})\n\n"
            + sizes_table(sizes, SLOW_MS) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="300 calls, 2 runs each")
    p.add_argument("--out", type=Path, default=None, help="write bench_store.json/.md here")
    args = p.parse_args(argv)
    sizes = (300,) if args.quick else tuple(int(x) for x in args.sizes.split(","))
    res = run(sizes, 2 if args.quick else args.repeats)
    res["machine"] = machine()
    md = to_markdown(res) + f"\nMachine: {machine_line(res['machine'])}\n"
    print(md)
    if args.out:
        write_result("bench_store", res, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
