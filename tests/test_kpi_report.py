"""The KPIs in `callqa report` (HTML, PDF text, CSV) and on the Coaching page equal what the store says.

A small store: team t1 (A1, A2), January 2026, customers calling back inside and outside the
window, a customer without an id, holds, after-call gaps, survey scores and sentiment. Expected
figures are read from `call_kpis` with plain SQL here (not through `qa.kpi.summary`).
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from qa.access.directory import Directory
from qa.kpi.refresh import refresh
from qa.rubric.engine import ItemResult, aggregate
from qa.rubric.schema import find_rubric, load_rubric
from qa.store import Store
from tests.test_kpi import add_call

REPO = Path(__file__).resolve().parent.parent
SINCE, UNTIL = date(2026, 1, 5), date(2026, 1, 18)


def _t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("kpi_report") / "calls.duckdb"
    rubric = load_rubric(find_rubric("en_inbound", REPO / "scoring_rubrics"))
    store = Store(db)
    plan = [  # call, customer, agent, start, duration, hold, csat, closing polarity
        ("r01", "C1", "A1", _t(5, 9), 300, 0, 4, [0.6, 0.8]),
        ("r02", "C1", "A1", _t(6, 9, 10), 200, 40, 2, [-0.5]),  # repeat of r01
        ("r03", "C2", "A1", _t(6, 9), 240, 0, None, [0.1]),
        ("r04", None, "A1", _t(7, 9), 180, 20, 5, [0.9]),  # no customer id
        ("r05", "C3", "A1", _t(8, 9), 420, 60, 3, [-0.2, 0.0]),
        ("r06", "C3", "A2", _t(20, 9), 100, 0, None, []),  # 12 days later: a new first contact (outside the period)
        ("r07", "C4", "A2", _t(9, 9), 360, 0, 1, [-0.9]),
        ("r08", "C4", "A2", _t(10, 9), 300, 30, 4, [0.5]),
        ("r09", "C5", "A2", _t(12, 9), 200, 0, 5, [0.7]),
        ("r10", "C6", "A1", _t(1, 9), 250, 0, None, [0.2]),  # the previous period
        ("r11", "C6", "A1", _t(2, 9), 250, 10, None, [0.0]),
    ]
    for cid, cust, agent, start, dur, hold, csat, closing in plan:
        add_call(db, cid, cust, agent, start, dur, metrics={"hold_total_s": hold, "hold_count": 1 if hold else 0,
                 "dead_air_longest_s": 5.0, "agent_response_latency_mean_s": 1.0 + dur / 1000,
                 "agent_response_latency_max_s": 2.0 + dur / 100},
                 holds=[(50, 50 + hold, False)] if hold else [], csat=csat, closing=closing,
                 sentiment={"customer_end": closing[-1], "customer_trajectory": "steady"} if closing else None)
        results = [ItemResult(s.id, i.id, "pass", i.weight, i.weight, bool(i.critical), "phrases", "matched")
                   for s, i in rubric.items()]
        store.save_scores(cid, results, aggregate(rubric, results))
    refresh(db)
    directory = Directory(db)
    for agent in ("A1", "A2"):
        directory.add(f"{agent.lower()}@x", "agent", agent_id=agent, teams=["t1"], display_name=f"Agent {agent}")
    directory.add("lead1@x", "team_lead", teams=["t1"])
    return db


def expected(db: Path, agents: list[str], since: date = SINCE, until: date = UNTIL) -> dict[str, float | None]:
    """FCR, AHT, hold and the estimate for `agents` from the store, in plain SQL (Istanbul days)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'Europe/Istanbul'")
        where = ("c.agent_id IN (SELECT unnest(?::VARCHAR[])) AND c.started_at::DATE BETWEEN ? AND ?")
        fcr = con.execute(f"""SELECT count(*) FILTER (WHERE repeat_call_id IS NULL),
                                     count(*) FROM call_kpis k JOIN calls c USING (call_id)
                              WHERE k.is_first AND k.window_ends_at <= now() AND {where}""",
                          [agents, since, until]).fetchone()
        talk, hold, after, est = con.execute(f"""SELECT avg(talk_s), avg(hold_s), avg(after_call_gap_s),
                                                        avg(csat_estimate)
                                                 FROM call_kpis k JOIN calls c USING (call_id) WHERE {where}""",
                                             [agents, since, until]).fetchone()
    finally:
        con.close()
    return {"fcr": 100.0 * fcr[0] / fcr[1] if fcr[1] else None, "aht": talk + hold + (after or 0.0), "hold": hold,
            "estimate": est}


class _Rows(HTMLParser):
    """Text of every <tr id=...> cell."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._id, self._cell = None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._id = dict(attrs).get("id")
            if self._id:
                self.rows[self._id] = []
        elif tag == "td" and self._id:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "td" and self._id and self._cell is not None:
            self.rows[self._id].append(self._cell.strip())
            self._cell = None
        elif tag == "tr":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


class _Shown(str):
    """A figure as a page shows it; on a rounding tie (27 / 8 = 3.375) either neighbour is right, since the
    page's float and the test's may differ in the last bit."""

    def __new__(cls, value, digits: int):
        self = super().__new__(cls, f"{value:.{digits}f}")
        self.both = {f"{value - 1e-9:.{digits}f}", f"{value + 1e-9:.{digits}f}"}
        return self

    def __eq__(self, other) -> bool:
        return other in self.both

    __hash__ = str.__hash__


def _f(value, digits=1) -> str:
    return "–" if value is None else _Shown(value, digits)


def _report(db: Path, tmp: Path, fmt: str, *who: str) -> Path:
    out = tmp / f"r.{fmt}"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "report", *who, "--since", str(SINCE), "--until",
                           str(UNTIL), "--out", str(out), "--db", str(db)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_report_html_pdf_csv_show_the_stored_kpis(db: Path, tmp_path: Path) -> None:
    mine, team = expected(db, ["A1"]), expected(db, ["A1", "A2"])
    prev = expected(db, ["A1"], SINCE - timedelta(days=14), SINCE - timedelta(days=1))
    assert mine["fcr"] == pytest.approx(100 * 2 / 3)  # r01 not resolved (r02), r03 and r05 resolved
    assert team["fcr"] == pytest.approx(100 * 3 / 5)  # + r07 not resolved (r08), r09 resolved
    parser = _Rows()
    parser.feed(_report(db, tmp_path, "html", "--agent", "A1").read_text(encoding="utf-8"))
    rows = parser.rows
    assert rows["kpi-fcr"][1:] == [_f(mine["fcr"]), _f(team["fcr"]), _f(prev["fcr"])]
    assert rows["kpi-aht"][1:] == [_f(mine["aht"]), _f(team["aht"]), _f(prev["aht"])]
    assert rows["kpi-hold"][1:] == [_f(mine["hold"]), _f(team["hold"]), _f(prev["hold"])]
    assert rows["kpi-estimate"][1:] == [_f(mine["estimate"], 2), _f(team["estimate"], 2), _f(prev["estimate"], 2)]
    assert rows["kpi-first"][1] == "3 (2 / 1 / 0)" and rows["kpi-unknown"][1] == "1"

    text = subprocess.run(["pdftotext", "-layout", str(_report(db, tmp_path, "pdf", "--agent", "A1")), "-"],
                          capture_output=True, text=True, check=True).stdout
    for label, key, d in (("First-contact resolution", "fcr", 1), ("Average handle time", "aht", 1),
                          ("Hold time", "hold", 1), ("Satisfaction estimate", "estimate", 2)):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(label))
        assert re.findall(r"\d+\.\d+", line)[:3] == [_f(mine[key], d), _f(team[key], d), _f(prev[key], d)], line
    assert "Estimate, not a survey" in text

    with _report(db, tmp_path, "csv", "--agent", "A1").open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    stored = {r[0]: r[1:] for r in Store(db).query(
        "SELECT call_id, talk_s, hold_s, after_call_gap_s, csat, csat_estimate FROM call_kpis")}
    statuses = {"r01": "not_resolved", "r02": "repeat", "r03": "resolved", "r04": "unknown", "r05": "resolved"}
    assert {r["call_id"] for r in table} == set(statuses)
    for r in table:
        talk, hold, after, csat, est = stored[r["call_id"]]
        assert r["fcr_status"] == statuses[r["call_id"]]
        assert float(r["talk_s"]) == talk and float(r["hold_s"]) == hold
        assert (r["after_call_gap_s"] == "") == (after is None) and (r["csat"] == "") == (csat is None)
        assert est is None or math.isclose(float(r["csat_estimate"]), est)


def test_team_report_lists_agents_kpis(db: Path, tmp_path: Path) -> None:
    parser = _Rows()
    html = _report(db, tmp_path, "html", "--team", "t1").read_text(encoding="utf-8")
    parser.feed(html)
    assert parser.rows["kpi-fcr"][1] == _f(expected(db, ["A1", "A2"])["fcr"])
    table = html[html.index('<table id="kpi-agents">'):]
    a2 = re.search(r"<tr><td>Agent A2 \(A2\)</td>(.*?)</tr>", table, re.S).group(1)
    want = expected(db, ["A2"])
    assert re.findall(r'<td class="n">([^<]*)</td>', a2)[:3] == [_f(want["fcr"]), _f(want["aht"]), _f(want["hold"])]


def test_coaching_page_shows_the_stored_kpis(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import page_texts, run_app

    monkeypatch.setenv("CALLQA_DB", str(db))
    monkeypatch.setenv("CALLQA_AUTH", "oidc")
    at = run_app("views/agents.py", user={"is_logged_in": True, "email": "lead1@x", "sub": "sub-lead1"})
    at.date_input(key="coach_period").set_value((SINCE, UNTIL)).run()
    at.selectbox(key="coach_subject_agent").set_value("A1").run()
    assert not at.exception, [e.value for e in at.exception]
    mine, team = expected(db, ["A1"]), expected(db, ["A1", "A2"])
    metrics = {m.label: (m.value, m.delta) for m in at.metric}
    assert metrics["First-contact resolution (%)"] == (_f(mine["fcr"]), f"{mine['fcr'] - team['fcr']:+.1f} vs team")
    assert metrics["Average handle time (s)"][0] == _f(mine["aht"])
    assert metrics["Hold time (s, mean per call)"][0] == _f(mine["hold"])
    assert metrics["Satisfaction estimate (1-5, mean)"][0] == _f(mine["estimate"], 2)
    table = next(d.value for d in at.dataframe if list(d.value.columns)[:1] == ["KPI"])
    assert list(table.iloc[0])[1:] == [_f(mine["fcr"]), _f(team["fcr"]), _f(expected(
        db, ["A1"], SINCE - timedelta(days=14), SINCE - timedelta(days=1))["fcr"])]
    assert "Estimate, not a survey" in page_texts(at)


def test_kpis_follow_the_reports_queue_and_language(db: Path, tmp_path: Path) -> None:
    """A report narrowed to a queue (or language) shows that queue's KPIs, not the agent's whole period's."""
    import shutil

    from qa.access.coaching import Filters
    from qa.access.model import LOCAL_ADMIN
    from qa.coaching.generate import build

    for f in db.parent.glob("calls*.duckdb"):
        shutil.copy(f, tmp_path / f.name)
    copy = tmp_path / "calls.duckdb"
    con = duckdb.connect(str(copy))
    con.execute("UPDATE calls SET queue = 'sales', language = 'tr' WHERE call_id = 'r03'")
    con.close()
    whole, _ = build(copy, LOCAL_ADMIN, "A1", None, SINCE, UNTIL)
    support, _ = build(copy, LOCAL_ADMIN, "A1", None, SINCE, UNTIL, filters=Filters(queue="support"))
    sales, _ = build(copy, LOCAL_ADMIN, "A1", None, SINCE, UNTIL, filters=Filters(queue="sales"))
    turkish, _ = build(copy, LOCAL_ADMIN, "A1", None, SINCE, UNTIL, filters=Filters(language="tr"))
    assert whole.kpis["block"].subject.calls == 5 and whole.kpis["block"].subject.fcr_pct == pytest.approx(100 * 2 / 3)
    assert support.kpis["block"].subject.calls == 4  # r01 (not resolved), r02 (repeat), r04 (unknown), r05 (resolved)
    assert support.kpis["block"].subject.fcr_pct == pytest.approx(50.0)
    assert sales.kpis["block"].subject.calls == 1 and sales.kpis["block"].subject.fcr_pct == pytest.approx(100.0)
    assert turkish.kpis["block"].subject.calls == 1 and turkish.kpis["block"].team.calls == 1  # the team line too
