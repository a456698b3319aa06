"""Contact-centre KPIs on constructed call histories with known answers.

FCR by repeat contact (the issue's worked example A/B = 50 %, repeats inside and outside the
window, per-queue windows, a customer without an id, a repeat that arrives in a later batch,
erasure and anonymisation, open windows, calls across midnight and time zones), handle time,
waits, the satisfaction estimate and its agreement, metadata leniency, and the rubric metric.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from qa.access.erase import anonymise_calls, delete_calls
from qa.access.model import LOCAL_ADMIN
from qa.access.repository import DuckDBRepository
from qa.kpi import satisfaction
from qa.kpi.refresh import KpiConfig, refresh
from qa.kpi.summary import day_bounds, figures, rows_for
from qa.store import Store

UTC = timezone.utc
LATER = datetime(2027, 1, 1, tzinfo=UTC)  # every window has passed


def _t(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def add_call(db: Path, call_id: str, customer: str | None, agent: str, started: datetime | None,
             duration: float = 300.0, queue: str = "support", status: str = "ok", metrics: dict | None = None,
             holds: list[tuple[float, float, bool]] = (), csat=None, sentiment: dict | None = None,
             closing: list[float] = ()) -> None:
    """One call's rows as the pipeline stores them (only what the KPIs read)."""
    Store(db).init()
    meta = {"call_id": call_id, "customer_id": customer}
    if csat is not None:
        meta["csat"] = csat
    con = duckdb.connect(str(db))
    try:
        con.execute("""INSERT INTO calls (call_id, agent_id, agent_name, customer_id, started_at, queue, duration_s,
                       status, metadata_json, sentiment_json, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())""",
                    [call_id, agent, f"Agent {agent}", customer, started, queue, duration, status, json.dumps(meta),
                     json.dumps(sentiment) if sentiment else None])
        for name, value in (metrics or {}).items():
            con.execute("INSERT INTO call_metrics VALUES (?, ?, ?)", [call_id, name, value])
        for i, (s, e, announced) in enumerate(holds):
            con.execute("INSERT INTO call_events VALUES (?, ?, 'hold', ?, ?, ?)",
                        [call_id, i, s, e, json.dumps({"announced": announced})])
        for i, p in enumerate(closing):
            con.execute("""INSERT INTO utterances (call_id, idx, speaker, speaker_role, start_s, end_s, text,
                           confidence, sentiment_polarity) VALUES (?, ?, 'ch1', 'customer', ?, ?, 'x', 1, ?)""",
                        [call_id, i, 10.0 * i, 10.0 * i + 5, p])
    finally:
        con.close()


def status(db: Path, as_of: datetime = LATER, since: date = date(2026, 1, 1), until: date = date(2026, 12, 31),
           tz: str = "UTC") -> dict[str, str]:
    rows = rows_for(DuckDBRepository(db), LOCAL_ADMIN, since, until, tz, as_of)
    return dict(zip(rows["call_id"], rows["fcr_status"]))


def stored(db: Path, call_id: str) -> dict:
    df = Store(db).query_df("SELECT * FROM call_kpis WHERE call_id = ?", [call_id])
    return df.iloc[0].to_dict()


def test_worked_example_a_b_is_50_percent(tmp_path):
    db = tmp_path / "s.duckdb"
    add_call(db, "a1", "A", "X", _t(2))
    add_call(db, "b1", "B", "X", _t(3))
    add_call(db, "a2", "A", "X", _t(4))
    refresh(db)
    assert status(db) == {"a1": "not_resolved", "b1": "resolved", "a2": "repeat"}
    rows = rows_for(DuckDBRepository(db), LOCAL_ADMIN, date(2026, 3, 1), date(2026, 3, 31), "UTC", LATER)
    f = figures(rows, 30)
    assert (f.first_contacts, f.resolved, f.not_resolved, f.repeats, f.fcr_pct) == (2, 1, 1, 1, 50.0)
    assert stored(db, "a1")["repeat_call_id"] == "a2" and stored(db, "a2")["first_call_id"] == "a1"


def test_window_edges_and_queue_windows(tmp_path):
    db = tmp_path / "s.duckdb"
    add_call(db, "c1", "C", "X", _t(1))
    add_call(db, "c2", "C", "X", _t(8))  # exactly 7 days later: within the window
    add_call(db, "c3", "C", "X", _t(15, 10, 1))  # 7 days and a minute after c2: a new first contact
    add_call(db, "d1", "D", "X", _t(1), queue="billing")
    add_call(db, "d2", "D", "X", _t(4), queue="billing")  # 3 days: outside billing's 2-day window
    refresh(db, KpiConfig(7.0, {"billing": 2.0}))
    assert status(db) == {"c1": "not_resolved", "d1": "resolved", "d2": "resolved", "c2": "repeat",
                          "c3": "resolved"}
    refresh(db)  # no config: the stored one (billing 2 days) is used again, same rows
    assert status(db)["d2"] == "resolved"
    refresh(db, KpiConfig(7.0))  # billing back to 7 days: d2 repeats d1
    assert status(db)["d1"] == "not_resolved" and status(db)["d2"] == "repeat"


def test_missing_customer_id_is_unknown_never_guessed(tmp_path):
    db = tmp_path / "s.duckdb"
    add_call(db, "e1", "E", "X", _t(2))
    add_call(db, "n1", None, "X", _t(3))  # same agent, a day later: not E's repeat
    add_call(db, "n2", "  ", "X", _t(3, 11))  # blank is no id either
    add_call(db, "t1", "E", "X", None)  # no start time: cannot be placed
    refresh(db)
    st = status(db)
    assert st["e1"] == "resolved" and st["n1"] == "unknown" and st["n2"] == "unknown"
    f = figures(rows_for(DuckDBRepository(db), LOCAL_ADMIN, date(2026, 3, 1), date(2026, 3, 31), "UTC", LATER), 30)
    assert (f.unknown, f.first_contacts, f.fcr_pct) == (2, 1, 100.0)
    assert stored(db, "t1")["is_first"] is None or stored(db, "t1")["is_first"] != stored(db, "t1")["is_first"]


def test_open_windows_leave_the_denominator(tmp_path):
    db = tmp_path / "s.duckdb"
    add_call(db, "f1", "F", "X", _t(10))
    add_call(db, "g1", "G", "X", _t(10))
    add_call(db, "g2", "G", "X", _t(12))  # a repeat already, but g1's window is still open on the 14th
    add_call(db, "h1", "H", "X", _t(1))
    refresh(db)
    as_of = _t(14)
    st = status(db, as_of)
    assert st == {"h1": "resolved", "f1": "open", "g1": "open", "g2": "repeat"}
    f = figures(rows_for(DuckDBRepository(db), LOCAL_ADMIN, date(2026, 3, 1), date(2026, 3, 31), "UTC", as_of), 30)
    assert (f.first_contacts, f.open, f.fcr_pct) == (3, 2, 100.0)
    assert status(db, _t(18)) == {"h1": "resolved", "f1": "resolved", "g1": "not_resolved", "g2": "repeat"}


def test_a_repeat_in_a_later_batch_updates_the_earlier_contact_and_reruns_are_idempotent(tmp_path):
    db = tmp_path / "s.duckdb"
    add_call(db, "k1", "K", "X", _t(5, 23, 50))
    refresh(db)
    assert status(db) == {"k1": "resolved"}
    before = Store(db).query("SELECT * EXCLUDE (computed_at) FROM call_kpis ORDER BY call_id")
    refresh(db)
    assert Store(db).query("SELECT * EXCLUDE (computed_at) FROM call_kpis ORDER BY call_id") == before
    add_call(db, "k2", "K", "Y", _t(9, 8))  # the next night's batch, another agent
    refresh(db)
    assert status(db) == {"k1": "not_resolved", "k2": "repeat"}
    # the agent of the first contact carries the FCR
    x = figures(rows_for(DuckDBRepository(db), LOCAL_ADMIN, date(2026, 3, 1), date(2026, 3, 31), "UTC", LATER,
                         agents=("X",)), 30)
    y = figures(rows_for(DuckDBRepository(db), LOCAL_ADMIN, date(2026, 3, 1), date(2026, 3, 31), "UTC", LATER,
                         agents=("Y",)), 30)
    assert (x.first_contacts, x.fcr_pct, y.first_contacts, y.repeats, y.fcr_pct) == (1, 0.0, 0, 1, None)


def test_erasure_and_anonymisation_recompute_neighbours(tmp_path):
    db = tmp_path / "s.duckdb"
    add_call(db, "m1", "M", "X", _t(2))
    add_call(db, "m2", "M", "X", _t(4))
    add_call(db, "m3", "M", "X", _t(8))
    add_call(db, "p1", "P", "X", _t(2))
    add_call(db, "p2", "P", "X", _t(3))
    refresh(db)
    assert status(db) == {"m1": "not_resolved", "p1": "not_resolved", "p2": "repeat", "m2": "repeat", "m3": "repeat"}
    delete_calls(db, LOCAL_ADMIN, ["m2"])  # m3 is now 6 days after m1: still a repeat of m1
    assert status(db) == {"m1": "not_resolved", "p1": "not_resolved", "p2": "repeat", "m3": "repeat"}
    delete_calls(db, LOCAL_ADMIN, ["m1"])  # m3 becomes a first contact, resolved
    assert status(db) == {"p1": "not_resolved", "p2": "repeat", "m3": "resolved"}
    anonymise_calls(db, LOCAL_ADMIN, ["p1"])  # its customer id is gone: it keeps its status
    refresh(db)
    assert status(db) == {"p1": "not_resolved", "p2": "resolved", "m3": "resolved"}
    assert stored(db, "p1")["frozen"]


def test_midnight_and_time_zones(tmp_path):
    db = tmp_path / "s.duckdb"
    ist = ZoneInfo("Europe/Istanbul")
    # 23:30 UTC on the 9th is 02:30 on the 10th in Istanbul; both calls are one customer's, 6.5 h apart
    add_call(db, "z1", "Z", "X", datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    add_call(db, "z2", "Z", "X", datetime(2026, 3, 10, 9, 0, tzinfo=ist))  # 06:00 UTC
    # written with another offset: the window is absolute time (7 days = 168 h, not calendar days)
    add_call(db, "z3", "Z", "X", datetime(2026, 3, 17, 1, 29, tzinfo=ZoneInfo("America/New_York")))  # 05:29 UTC
    refresh(db)
    rows = Store(db).query("SELECT call_id, started_at FROM calls ORDER BY started_at")
    assert [r[0] for r in rows] == ["z1", "z2", "z3"]
    assert status(db) == {"z1": "not_resolved", "z2": "repeat", "z3": "repeat"}  # z3: 7 days minus 31 min after z2
    # periods are display-time-zone days: z1 belongs to the 10th in Istanbul, to the 9th in UTC
    assert set(status(db, since=date(2026, 3, 10), until=date(2026, 3, 10), tz="Europe/Istanbul")) == {"z1", "z2"}
    assert set(status(db, since=date(2026, 3, 9), until=date(2026, 3, 9), tz="UTC")) == {"z1"}
    start, end = day_bounds(date(2026, 3, 29), date(2026, 3, 29), "Europe/Berlin")  # a 23-hour day (DST)
    assert (end - start) == timedelta(hours=23)


def test_naive_start_times_are_read_in_metadata_timezone(tmp_path):
    from qa.metadata import read_metadata

    audio = tmp_path / "call.wav"
    audio.write_bytes(b"")
    (tmp_path / "call.json").write_text(json.dumps({"started_at": "2026-03-10T00:30:00", "customer_id": 4711}))
    meta = read_metadata(audio, None, "Europe/Istanbul")
    assert meta.started_at == datetime(2026, 3, 9, 21, 30, tzinfo=UTC) and meta.customer_id == "4711"
    assert read_metadata(audio).started_at == datetime(2026, 3, 10, 0, 30, tzinfo=UTC)


def test_customer_id_from_the_filename_pattern(tmp_path):
    from qa.metadata import read_metadata

    audio = tmp_path / "c77_AGENT_A1_CUST_90210.wav"
    audio.write_bytes(b"")
    pattern = r"^(?P<call_id>[^_]+)_AGENT_(?P<agent_id>[^_]+)_CUST_(?P<customer_id>\w+)"
    assert read_metadata(audio, pattern).customer_id == "90210"
    assert read_metadata(tmp_path / "other.wav", pattern).customer_id is None  # no match: unknown, not guessed


@pytest.mark.parametrize("value, csat, warned", [
    (4, 4, False), ("5", 5, False), (3.0, 3, False), ("", None, False),
    (7, None, True), (0, None, True), ("great", None, True), (4.5, None, True), (True, None, True)])
def test_csat_is_validated_and_a_bad_value_never_loses_the_call(tmp_path, value, csat, warned):
    from qa.metadata import read_metadata

    audio = tmp_path / "call.wav"
    audio.write_bytes(b"")
    (tmp_path / "call.json").write_text(json.dumps({"agent_id": "A1", "csat": value, "customer_id": {"x": 1}}))
    meta = read_metadata(audio)
    assert meta.csat == csat and meta.agent_id == "A1" and meta.customer_id is None
    warnings = meta.extra.get("metadata_warnings", [])
    assert any("customer_id" in w for w in warnings)
    assert any("csat" in w and "1-5" in w for w in warnings) == warned


def test_handle_time_waits_and_satisfaction(tmp_path):
    db = tmp_path / "s.duckdb"
    # agent X: call 1 10:00-10:05 (30 s hold), next call at 10:07 -> after-call gap 120 s
    add_call(db, "h1", "Q", "X", _t(2, 10), 300, metrics={"hold_total_s": 30, "hold_count": 1,
             "dead_air_longest_s": 12, "agent_response_latency_mean_s": 1.5, "agent_response_latency_max_s": 4},
             holds=[(100, 130, False)], csat=2, sentiment={"customer_end": -0.6, "customer_trajectory": "worsened"},
             closing=[-0.2, -0.8, -0.6])
    add_call(db, "h2", "R", "X", _t(2, 10, 7), 240, metrics={"hold_total_s": 0, "hold_count": 0,
             "dead_air_longest_s": 3, "agent_response_latency_mean_s": 0.5, "agent_response_latency_max_s": 1},
             csat=5, sentiment={"customer_end": 0.8, "customer_trajectory": "improved"}, closing=[0.9, 0.7])
    # next call 2 h later: a break, not after-call work
    add_call(db, "h3", "S", "X", _t(2, 12, 11), 60, metrics={"hold_total_s": 50, "hold_count": 1,
             "dead_air_longest_s": 2}, holds=[(5, 55, True)], sentiment={"customer_end": 0.0,
             "customer_trajectory": "steady"}, closing=[0.0])
    refresh(db)
    h1, h2, h3 = stored(db, "h1"), stored(db, "h2"), stored(db, "h3")
    assert (h1["talk_s"], h1["hold_s"], h1["after_call_gap_s"]) == (270, 30, 120)
    assert h2["after_call_gap_s"] != h2["after_call_gap_s"]  # NaN: 2 h to the next call is a break
    assert h3["after_call_gap_s"] != h3["after_call_gap_s"]  # the agent's last call
    assert (h1["unannounced_wait_max_s"], h2["unannounced_wait_max_s"], h3["unannounced_wait_max_s"]) == (30, 3, 2)
    # the estimate: 3 + 2 x mean(closing of the last two, last third) + 0.5 x trajectory
    assert h1["csat_estimate"] == pytest.approx(max(1.0, 3 + 2 * ((-0.8 - 0.6) / 2 - 0.6) / 2 - 0.5))
    assert h2["csat_estimate"] == pytest.approx(min(5.0, 3 + 2 * ((0.9 + 0.7) / 2 + 0.8) / 2 + 0.5))
    assert h3["csat_estimate"] == pytest.approx(3.0)
    f = figures(rows_for(DuckDBRepository(db), LOCAL_ADMIN, date(2026, 3, 2), date(2026, 3, 2), "UTC", LATER), 10)
    assert f.talk_s == pytest.approx((270 + 240 + 10) / 3) and f.hold_s == pytest.approx(80 / 3)
    assert f.after_call_s == 120 and f.after_call_n == 1
    assert f.aht_s == pytest.approx((270 + 240 + 10) / 3 + 80 / 3 + 120)
    assert (f.hold_calls_pct, f.hold_per_held_call_s) == (pytest.approx(200 / 3), 40)
    assert (f.latency_mean_s, f.latency_max_s) == (1.0, 4.0)
    assert (f.long_wait_calls, f.long_wait_pct) == (1, pytest.approx(100 / 3))  # only h1 waited > 10 s unannounced
    assert (f.csat_n, f.csat_mean, f.estimate_n) == (2, 3.5, 3)
    assert f.agreement.n == 2 and f.agreement.mae == pytest.approx(
        (abs(h1["csat_estimate"] - 2) + abs(h2["csat_estimate"] - 5)) / 2)


def test_agreement_statistics():
    a = satisfaction.agreement([1.5, 2.0, 4.0, 4.5, None], [1, 3, 4, 5, 2])
    assert a.n == 4 and a.mae == pytest.approx((0.5 + 1 + 0 + 0.5) / 4) and a.spearman == pytest.approx(1.0)
    assert a.within_one_pct == 100.0
    assert satisfaction.agreement([3.0], [None]).n == 0
    assert satisfaction.estimate_one(None, None, "improved") is None
    assert satisfaction.estimate_one(1.0, 1.0, "improved") == 5.0


def test_unannounced_wait_for_rubrics_matches_the_kpi_sql(tmp_path):
    """The rubric fact (Python, from metrics and events) equals the stored KPI (SQL)."""
    from qa.callfacts import CallEvent, rubric_context
    from qa.rubric.engine import score_call
    from qa.rubric.schema import parse_rubric

    db = tmp_path / "s.duckdb"
    metrics = {"dead_air_longest_s": 8.0, "hold_total_s": 80.0}
    events = [CallEvent("hold", 60, 100, {"announced": True}), CallEvent("hold", 200, 245, {"announced": False})]
    add_call(db, "w1", "W", "X", _t(2), metrics=metrics, holds=[(60, 100, True), (200, 245, False)])
    refresh(db)
    ctx = rubric_context(duration_s=300, language="en", direction="inbound", queue="support", agent_name=None,
                         metrics=metrics, events=events, sentiment=None, embedding_model="bundled:e5-small")
    assert ctx.facts["unannounced_wait_max_s"] == stored(db, "w1")["unannounced_wait_max_s"] == 45.0
    rubric = parse_rubric(RUBRIC)
    results, _ = score_call(rubric, [], ctx)
    by_id = {r.item_id: r for r in results}
    assert by_id["no_long_unannounced_wait"].outcome == "fail" and "45" in by_id["no_long_unannounced_wait"].reason
    assert by_id["apologise_after_long_wait"].outcome == "fail"  # applies: waited over 30 s; no apology said


RUBRIC = """
id: kpi_wait
version: 1
language: en
title: waits
sections:
  - id: waits
    title: Waits
    items:
      - id: no_long_unannounced_wait
        title: The customer never waits more than 30 s without an announcement
        check: {type: metric, metric: unannounced_wait_max_s, max: 30}
      - id: apologise_after_long_wait
        title: Apologise after a long unannounced wait
        applies_when: {unannounced_wait_max_s: {min: 30}}
        check: {type: phrases, any: ["sorry for the wait", "thank you for waiting"]}
tests:
  - name: a 45 s unannounced wait fails, and the apology item applies
    facts: {unannounced_wait_max_s: 45}
    utterances:
      - {role: agent, start: 250, end: 253, text: "Thank you for waiting."}
    expect: {no_long_unannounced_wait: fail, apologise_after_long_wait: pass}
  - name: short waits pass and the apology is not asked for
    facts: {unannounced_wait_max_s: 12}
    expect: {no_long_unannounced_wait: pass, apologise_after_long_wait: na}
"""


def test_rubric_selftest_with_the_wait_metric(tmp_path):
    from qa.rubric.schema import parse_rubric
    from qa.rubric.selftest import run_case

    rubric = parse_rubric(RUBRIC)
    results = [run_case(rubric, case, i, "kpi_wait") for i, case in enumerate(rubric.tests)]
    assert all(r.ok for r in results), [r.problems for r in results]


def test_kpi_bench_at_300_calls():
    from benchmarks import bench_kpi

    res = bench_kpi.run(300, 1)
    whats = [r["what"] for r in res["rows"]]
    assert whats[0] == "floor: open read-only, one row, close" and any(w.startswith("first refresh: 300 calls") for w in whats)
    assert all(r["p50_ms"] > 0 for r in res["rows"])
    # the synthetic store has repeat customers and survey scores, so every KPI has something to count
    assert 0 < res["refresh"]["first_contacts"] < res["refresh"]["contacts"]
    assert res["january"]["calls"] > 0 and res["january"]["fcr_pct"] is not None and res["january"]["agreement_n"] > 0


@pytest.mark.slow
def test_real_batches_refresh_the_kpis_and_a_bad_csat_keeps_the_call(prefect_harness, tmp_path):
    """Two nightly batches through the real flow (real models): the second brings the first call's repeat."""
    import shutil

    from conftest import shared
    from tests.test_batch import run_flow

    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    day1.mkdir(), day2.mkdir()
    shutil.copy(shared("faster_whisper", "jfk.flac"), day1 / "jfk.flac")
    (day1 / "jfk.json").write_text(json.dumps({"call_id": "k-1", "agent_id": "A7", "language": "en",
                                               "customer_id": "K-42", "csat": 7,
                                               "started_at": "2026-03-02T23:50:00+03:00"}))
    shutil.copy(shared("faster_whisper", "stereo_diarization.wav"), day2 / "stereo.wav")
    (day2 / "stereo.json").write_text(json.dumps({"call_id": "k-2", "agent_id": "A8", "language": "en",
                                                  "agent_channel": 1, "customer_id": "K-42", "csat": "4",
                                                  "started_at": "2026-03-05T09:00:00"}))
    db = tmp_path / "calls.duckdb"
    assert [o["status"] for o in run_flow(day1, db)] == ["ok"]
    assert status(db) == {"k-1": "resolved"}
    meta = json.loads(Store(db).query("SELECT metadata_json FROM calls WHERE call_id = 'k-1'")[0][0])
    assert meta["csat"] is None and "not a survey score 1-5" in meta["metadata_warnings"][0]
    assert [o["status"] for o in run_flow(day2, db)] == ["ok"]
    assert status(db) == {"k-1": "not_resolved", "k-2": "repeat"}
    assert stored(db, "k-2")["csat"] == 4 and stored(db, "k-1")["csat"] is None
    assert stored(db, "k-1")["talk_s"] > 0 and stored(db, "k-1")["csat_estimate"] is not None


def test_survey_scores_imported_later(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "s.duckdb"
    add_call(db, "s1", "S", "X", _t(2), csat=2)
    add_call(db, "s2", "T", "X", _t(3))
    refresh(db)
    assert stored(db, "s1")["csat"] == 2
    sheet = tmp_path / "surveys.csv"
    sheet.write_text("call_id,csat,comment\ns1,5,great\ns2,seven,x\n[x](http://evil),4,\nlater-1,3,\n",
                     encoding="utf-8")
    repo = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", "pipelines.cli", "kpi", "import-csat", str(sheet), "--db", str(db)]
    done = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # some rows were rejected
    assert "surveys.csv:3: field 'csat'" in done.stderr and "surveys.csv:4: call_id" in done.stderr
    assert "Survey scores stored: 2 (1 for calls not in the store yet" in done.stdout
    assert stored(db, "s1")["csat"] == 5  # the imported score wins over the sidecar's
    assert subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120).returncode == 1  # same again
    assert Store(db).query("SELECT count(*) FROM call_surveys") == [(2,)]
    add_call(db, "later-1", "U", "X", _t(4))  # the call arrives after its survey
    refresh(db)
    assert stored(db, "later-1")["csat"] == 3
    delete_calls(db, LOCAL_ADMIN, ["later-1"])  # erasure takes its survey score too
    assert Store(db).query("SELECT call_id FROM call_surveys") == [("s1",)]


def test_a_store_from_before_the_kpis_reads_as_pending(tmp_path):
    db = tmp_path / "s.duckdb"
    add_call(db, "o1", "O", "X", _t(2))
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE call_kpis")  # as a store made before schema 3, never refreshed
    con.close()
    f = figures(rows_for(DuckDBRepository(db), LOCAL_ADMIN, date(2026, 3, 1), date(2026, 3, 31), "UTC", LATER), 30)
    assert (f.calls, f.pending, f.first_contacts, f.fcr_pct) == (1, 1, 0, None)
    refresh(db)
    assert status(db) == {"o1": "resolved"}
