"""Filters of the scoped repository (`find_calls`, qa/access/query.py): every filter against a
ground truth read straight from the files, reviewed outcomes counted (an overridden item), paging,
roles, and hostile input. Full-text search itself is in tests/test_text_index.py."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from qa.access.query import CallQuery
from qa.reviews import reviews_path
from tests.review_world import SENTIMENT_FELL, World, call_of, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    w = make_world(tmp_path_factory.mktemp("filters"))
    w.desk.fill(w["admin@x"])
    first = w.desk.queue(w["qa@x"])[0].call_id
    w.desk.sign_off(w["qa@x"], first, "agree")
    w.desk.set_status(w["qa@x"], w.desk.queue(w["qa@x"])[1].call_id, "in_review")
    a1 = call_of(w, "A001")
    items = w.repo.item_results(w["a1@x"], a1)
    w.desk.dispute(w["a1@x"], a1, next(i for i, o in zip(items["item_id"], items["outcome"]) if o in ("pass", "fail")), "x")
    # empathy: one AI fail turned into a pass, one AI pass turned into a fail
    con = duckdb.connect(str(w.db), read_only=True)
    fail, = con.execute("SELECT call_id FROM item_results WHERE item_id = 'empathy' AND outcome = 'fail' ORDER BY call_id LIMIT 1").fetchone()
    ok, = con.execute("SELECT call_id FROM item_results WHERE item_id = 'empathy' AND outcome = 'pass' ORDER BY call_id LIMIT 1").fetchone()
    con.close()
    w.desk.override(w["qa@x"], fail, "empathy", "pass")
    w.desk.override(w["qa@x"], ok, "empathy", "fail")
    return w


def _truth(world: World, sql: str, params: list | None = None) -> set[str]:
    con = duckdb.connect(str(world.db), read_only=True)
    try:
        con.execute(f"ATTACH '{reviews_path(world.db)}' AS r (READ_ONLY)")
        return {c for (c,) in con.execute(sql, params or []).fetchall()}
    finally:
        con.close()


def _all(world: World, viewer: str, q: CallQuery) -> tuple[list[str], int]:
    page = world.repo.find_calls(world[viewer], CallQuery(**{**q.__dict__, "limit": 10_000}))
    return list(page.rows["call_id"]), page.total


EMPATHY_FAILS = """SELECT i.call_id FROM item_results i WHERE i.item_id = 'empathy' AND i.outcome = 'fail'
    AND i.call_id NOT IN (SELECT call_id FROM r.reviews WHERE item_id = 'empathy')
    UNION SELECT call_id FROM r.reviews WHERE item_id = 'empathy' AND outcome = 'fail'"""
CASES = [
    ("queue", CallQuery(queue=["billing"]), "SELECT call_id FROM calls WHERE queue = 'billing'"),
    ("direction", CallQuery(direction=["outbound"]), "SELECT call_id FROM calls WHERE direction = 'outbound'"),
    ("two queues", CallQuery(queue=["billing", "sales"]), "SELECT call_id FROM calls WHERE queue IN ('billing', 'sales')"),
    ("roles uncertain", CallQuery(roles_uncertain=True), "SELECT call_id FROM calls WHERE role_confidence < 0.6"),
    ("roles sure", CallQuery(roles_uncertain=False), "SELECT call_id FROM calls WHERE role_confidence >= 0.6"),
    ("profile", CallQuery(profile=["angry"]), "SELECT call_id FROM call_profiles WHERE profile = 'angry'"),
    ("sentiment", CallQuery(sentiment_trend=["worsened"]), f"SELECT '{SENTIMENT_FELL}'"),
    ("failed item (reviews count)", CallQuery(failed_item="empathy"), EMPATHY_FAILS),
    ("reviewed", CallQuery(reviewed="reviewed"),
     "SELECT call_id FROM r.reviews UNION SELECT call_id FROM r.signoffs"),
    ("unreviewed", CallQuery(reviewed="unreviewed"),
     "SELECT call_id FROM calls EXCEPT (SELECT call_id FROM r.reviews UNION SELECT call_id FROM r.signoffs)"),
    ("signed off", CallQuery(reviewed="signed_off"), "SELECT call_id FROM r.signoffs"),
    ("disputed", CallQuery(reviewed="disputed"), "SELECT call_id FROM r.disputes"),
    ("queue: in review", CallQuery(review_status="in_review"), "SELECT call_id FROM r.queue_items WHERE status = 'in_review'"),
    ("queue: any", CallQuery(review_status="queued"), "SELECT call_id FROM r.queue_items"),
    ("language + status", CallQuery(languages=["en"], statuses=["ok"]),
     "SELECT call_id FROM calls WHERE language = 'en' AND status = 'ok'"),
    ("dates", CallQuery(date_from=date(2026, 1, 1), date_to=date(2026, 1, 1)),
     "SELECT call_id FROM calls WHERE started_at >= '2026-01-01' AND started_at < '2026-01-02'"),
    ("no day", CallQuery(date_from=date(2026, 2, 1)), "SELECT call_id FROM calls WHERE FALSE"),
    ("combined", CallQuery(queue=["billing"], direction=["inbound"], failed_item="empathy"),
     f"SELECT call_id FROM calls WHERE queue = 'billing' AND direction = 'inbound' INTERSECT ({EMPATHY_FAILS})"),
]


@pytest.mark.parametrize("name, q, sql", CASES, ids=[c[0] for c in CASES])
def test_filter_matches_ground_truth(world: World, name: str, q: CallQuery, sql: str) -> None:
    ids, total = _all(world, "admin@x", q)
    assert set(ids) == _truth(world, sql) and total == len(ids)


@pytest.mark.parametrize("who, scope_sql", [
    ("lead@x", "SELECT call_id FROM calls WHERE agent_id IN ('A001', 'A002')"),
    ("billing@x", "SELECT call_id FROM calls WHERE queue = 'billing'"),
    ("a3@x", "SELECT call_id FROM calls WHERE agent_id = 'A003'"),
])
@pytest.mark.parametrize("name, q, sql", CASES[:9], ids=[c[0] for c in CASES[:9]])
def test_filters_stay_in_scope(world: World, who: str, scope_sql: str, name: str, q: CallQuery, sql: str) -> None:
    ids, _ = _all(world, who, q)
    assert set(ids) == _truth(world, f"({sql}) INTERSECT ({scope_sql})")


def test_paging_and_order(world: World) -> None:
    every, total = _all(world, "admin@x", CallQuery())
    assert total == len(every) == 120
    pages = [world.repo.find_calls(world["admin@x"], CallQuery(limit=25, offset=o)) for o in range(0, 125, 25)]
    assert [c for p in pages for c in p.rows["call_id"]] == every and all(p.total == 120 for p in pages)
    past = world.repo.find_calls(world["admin@x"], CallQuery(queue=["billing"], limit=10, offset=500))
    assert past.rows.empty and past.total == _all(world, "admin@x", CallQuery(queue=["billing"]))[1] > 0
    started = world.repo.find_calls(world["admin@x"], CallQuery(limit=120)).rows["started_at"].dropna()
    assert list(started) == sorted(started, reverse=True)  # newest first
    row = pages[0].rows.iloc[0]
    assert {"score_pct", "band", "auto_failed", "reviewed", "agent"} <= set(pages[0].rows.columns) and row["call_id"] == every[0]


def test_page_rows_carry_reviewed_scores(world: World) -> None:
    q = CallQuery(reviewed="reviewed", limit=500)
    page = world.repo.find_calls(world["admin@x"], q).rows.set_index("call_id")
    listed = world.repo.list_calls(world["admin@x"]).set_index("call_id")
    for call_id in page.index:
        assert page.loc[call_id, "score_pct"] == listed.loc[call_id, "score_pct"]


@pytest.mark.parametrize("field, value", [
    ("queue", ["billing' OR '1'='1"]), ("failed_item", "x' OR 1=1 --"), ("profile", ["angry'); DROP TABLE calls; --"]),
    ("agent", "%' OR agent_id LIKE '%"), ("text", "'; DELETE FROM calls; --"), ("direction", ["\\"]),
])
def test_hostile_input_is_a_value(world: World, field: str, value) -> None:
    assert _all(world, "admin@x", CallQuery(**{field: value})) == ([], 0)
    assert _all(world, "admin@x", CallQuery())[1] == 120


@pytest.mark.parametrize("kw", [{"reviewed": "maybe"}, {"review_status": "later"}, {"sentiment_trend": ["up"]}])
def test_bad_filter_values_are_refused(kw: dict) -> None:
    with pytest.raises(ValueError):
        CallQuery(**kw)


def test_reviews_file_missing_reads_as_nothing_reviewed(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    assert _all(w, "admin@x", CallQuery(reviewed="reviewed")) == ([], 0)
    assert _all(w, "admin@x", CallQuery(reviewed="unreviewed"))[1] == 120
    assert json.dumps(_all(w, "admin@x", CallQuery(review_status="queued"))) == "[[], 0]"
