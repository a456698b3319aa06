"""Coaching reports against a store with known scores: every number in the HTML, the PDF's text and the CSV.

The store: two teams (t1: A1 A2 A3 on the Turkish rubric; t2: B1 B2 on the English one), four
weeks of January 2026 plus calls outside the period, two of A1's calls scored with the English
rubric (never mixed into A1's Turkish report), and reviews that change outcomes and scores.
Expected figures are computed here from the inputs (the rubric engine's own arithmetic for
reviewed scores), not from the report code. The PDF pages are rendered to PNG with pdftoppm and
kept under pytest's tmp dir (the path is printed).
"""

from __future__ import annotations

import csv
import math
import random
import re
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from tests.test_ops_schedule import prefect_server  # noqa: F401  (a real `prefect server start`)

from qa.access.audit import AuditLog
from qa.access.directory import Directory
from qa.access.model import LOCAL_ADMIN, AccessDenied
from qa.coaching.generate import generate
from qa.coaching.labels import labels
from qa.reviews import ReviewStore, reviewed_score
from qa.rubric.engine import ItemResult, aggregate
from qa.rubric.schema import find_rubric, load_rubric
from qa.store import Store

REPO = Path(__file__).resolve().parent.parent
SINCE, UNTIL = date(2026, 1, 5), date(2026, 2, 1)  # four weeks, Monday to Sunday
TEAMS = {"t1": ["A1", "A2", "A3"], "t2": ["B1", "B2"]}
NAMES = {"A1": "Ayşe Yılmaz", "A2": "Çağrı Öztürk", "A3": "Gül Şahin", "B1": "Ben Hale", "B2": "Bo Reed"}
METRICS = ("talk_ratio_agent", "dead_air_total_s", "interruptions_by_agent", "agent_response_latency_mean_s",
           "agent_wpm")
QUOTE = "Bunu size kesin söz veriyorum, yarın çözülür"
TZ = ZoneInfo("Europe/Istanbul")  # display_timezone's default: report days are its days


def _day(started: datetime) -> date:
    return started.astimezone(TZ).date()


def _rubric(rid: str):
    return load_rubric(find_rubric(rid, REPO / "scoring_rubrics"))


class World:
    """The inputs the store was built from, and the reviews applied after."""

    def __init__(self, db: Path):
        self.db = db
        self.calls: dict[str, dict] = {}  # call_id -> agent, started, rubric, items (ItemResults), metrics, profile
        self.reviews: dict[str, dict] = {}  # call_id -> item_id -> Review


def _build(db: Path) -> World:
    rng = random.Random(13)
    world = World(db)
    tr, en = _rubric("tr_inbound"), _rubric("en_inbound")
    store = Store(db)
    store.init()
    n = 0
    plan = []
    for team, agents in TEAMS.items():
        rubric = tr if team == "t1" else en
        for agent in agents:
            for week in range(-1, 5):  # week -1 (December) and 4 (February): outside the period
                for k in range(2 + (n % 2)):
                    started = datetime(2026, 1, 5, 9, tzinfo=timezone.utc) + timedelta(days=7 * week + 2 * k,
                                                                                        hours=k + n % 3)
                    plan.append((f"c{n:03d}", agent, started, rubric))
                    n += 1
    plan += [("c900", "A1", datetime(2026, 1, 13, 10, tzinfo=timezone.utc), en),
             ("c901", "A1", datetime(2026, 1, 21, 15, tzinfo=timezone.utc), en),
             # across midnight: Sunday 4 January 21:30 UTC is Monday 5 January 00:30 in Istanbul (in the period,
             # its first week); Sunday 1 February 22:30 UTC is Monday 2 February 01:30 there (after the period)
             ("c903", "A1", datetime(2026, 1, 4, 21, 30, tzinfo=timezone.utc), tr),
             ("c902", "A1", datetime(2026, 2, 1, 22, 30, tzinfo=timezone.utc), tr)]
    con = duckdb.connect(str(db))
    for call_id, agent, started, rubric in plan:
        con.execute("""INSERT INTO calls (call_id, agent_id, agent_name, started_at, direction, queue, duration_s,
                       language, status, processed_at) VALUES (?, ?, ?, ?, 'inbound', 'support', 300, ?, 'ok', now())""",
                    [call_id, agent, NAMES[agent], started, rubric.language])
        metrics = {m: round(rng.uniform(0.2, 60.0), 2) for m in METRICS}
        for m, v in metrics.items():
            con.execute("INSERT INTO call_metrics VALUES (?, ?, ?)", [call_id, m, v])
        profile = rng.choice(["angry", "hasty", None])
        if profile:
            con.execute("INSERT INTO call_profiles VALUES (?, ?, 0.8, '[]', 'x')", [call_id, profile])
        world.calls[call_id] = {"agent": agent, "started": started, "rubric": rubric, "metrics": metrics,
                                "profile": profile}
    con.close()
    for call_id, info in world.calls.items():
        rubric, results = info["rubric"], []
        for section, item in rubric.items():
            outcome = rng.choices(["pass", "fail", "na"], [6, 3, 1])[0]
            if info["agent"] == "A1" and item.id == "empathy":  # A1's weak spot, with a quote
                outcome = "pass" if int(call_id[1:]) % 4 == 0 else "fail"
            if item.critical:
                outcome = "fail" if call_id == "c005" else "pass"  # one auto-fail
            evidence = QUOTE if outcome == "fail" and item.id == "empathy" else None
            results.append(ItemResult(section.id, item.id, outcome, item.weight if outcome == "pass" else 0.0,
                                      0.0 if outcome == "na" else item.weight, bool(item.critical), "phrases",
                                      "matched" if outcome == "pass" else "not said", evidence,
                                      "agent" if evidence else None, 42.5 if evidence else None, None))
        info["items"] = results
        store.save_scores(call_id, results, aggregate(rubric, results))
    # reviews: outcomes changed on A1's, A2's and B1's calls (one item reviewed twice: the latest counts)
    reviews = ReviewStore(db)
    in_period = lambda a: [c for c, i in world.calls.items() if i["agent"] == a and SINCE <= _day(i["started"]) <= UNTIL
                           and i["rubric"].id == ("tr_inbound" if a[0] == "A" else "en_inbound")]
    changes = [(in_period("A1")[0], "empathy", "pass", "Empati var, 1:10'da 'anlıyorum' dedi"),
               (in_period("A1")[1], "greet_company", "fail", "Firma adı söylenmedi"),
               (in_period("A1")[1], "greet_company", "pass", "Yeniden dinledim: söylendi"),
               (in_period("A1")[2], "restate_problem", "fail", None),
               (in_period("A2")[0], "empathy", "fail", "Soğuk kaldı"),
               (in_period("B1")[0], "empathy", "fail", "No empathy at all")]
    for call_id, item_id, outcome, comment in changes:
        rubric = world.calls[call_id]["rubric"]
        review = reviews.save(call_id, rubric.id, str(rubric.version), item_id, outcome, "Derya Koç", comment)
        world.reviews.setdefault(call_id, {})[item_id] = review
    directory = Directory(db)
    for team, agents in TEAMS.items():
        for agent in agents:
            directory.add(f"{agent.lower()}@x", "agent", agent_id=agent, teams=[team], display_name=NAMES[agent])
    directory.add("lead1@x", "team_lead", teams=["t1"])
    directory.add("lead2@x", "team_lead", teams=["t2"])
    directory.add("admin@x", "admin")
    directory.add("qa@x", "reviewer")  # every call
    directory.add("sup@x", "reviewer", queues=["support"])  # one queue: part of agents' calls
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return _build(tmp_path_factory.mktemp("coaching") / "calls.duckdb")


# --- expected figures, from the inputs --------------------------------------------------------------
def _effective(world: World, call_id: str) -> tuple[list[ItemResult], object]:
    info = world.calls[call_id]
    reviews = world.reviews.get(call_id)
    if not reviews:
        return info["items"], aggregate(info["rubric"], info["items"])
    from qa.reviews import apply_reviews

    return apply_reviews(info["rubric"], info["items"], reviews), reviewed_score(info["rubric"], info["items"], reviews)


def _mine(world: World, agents: list[str], rubric_id: str, since: date = SINCE, until: date = UNTIL) -> list[str]:
    return [c for c, i in world.calls.items() if i["agent"] in agents and i["rubric"].id == rubric_id
            and since <= _day(i["started"]) <= until]


def _fmt(value, lang: str, digits: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "tr" else text


def _mean(values):
    values = [v for v in values if v is not None]
    return math.fsum(values) / len(values) if values else None


def _rate(outcomes):
    a = sum(o in ("pass", "fail") for o in outcomes)
    return a, sum(o == "pass" for o in outcomes), sum(o == "fail" for o in outcomes), (
        100.0 * sum(o == "pass" for o in outcomes) / a if a else None)


def expected(world: World, agents: list[str], team: list[str] | None, rubric_id: str) -> dict:
    rubric = _rubric(rubric_id)
    lang = rubric.language
    mine, theirs = _mine(world, agents, rubric_id), _mine(world, team, rubric_id) if team else []
    before = _mine(world, agents, rubric_id, SINCE - timedelta(days=28), SINCE - timedelta(days=1))
    assert before  # the period before has calls: "what changed" is tested
    eff = {c: _effective(world, c) for c in mine + theirs + before}
    score = lambda cs: _mean([eff[c][1].score_pct for c in cs])
    outcomes = lambda cs, item=None: [r.outcome for c in cs for r in eff[c][0] if item is None or r.item_id == item]
    auto = lambda cs: str(sum(eff[c][1].auto_failed for c in cs))
    rows = {"summary": [
        ["calls", str(len(mine))] + ([str(len(theirs))] if team else []) + [str(len(before))],
        ["avg", _fmt(score(mine), lang)] + ([_fmt(score(theirs), lang)] if team else []) + [_fmt(score(before), lang)],
        ["rate", _fmt(_rate(outcomes(mine))[3], lang)] + ([_fmt(_rate(outcomes(theirs))[3], lang)] if team else [])
        + [_fmt(_rate(outcomes(before))[3], lang)],
        ["auto", auto(mine)] + ([""] if team else []) + [auto(before)],
        ["reviewed", str(sum(c in world.reviews for c in mine))] + ([""] if team else []) + [""],
    ]}
    week = lambda c: _day(world.calls[c]["started"]) - timedelta(days=_day(world.calls[c]["started"]).weekday())
    rows["weeks"] = []
    for wk in sorted({week(c) for c in mine}):
        cs, ts = [c for c in mine if week(c) == wk], [c for c in theirs if week(c) == wk]
        rows["weeks"].append([f"{wk:%Y-%m-%d}", str(len(cs)), _fmt(score(cs), lang), auto(cs)]
                             + ([_fmt(score(ts), lang)] if team else []))
    rows["section_weeks"] = []  # each section's mean per week, the subject's and the team's
    for wk in sorted({week(c) for c in mine}):
        cs, ts = [c for c in mine if week(c) == wk], [c for c in theirs if week(c) == wk]
        for s in rubric.sections:
            rows["section_weeks"].append([f"{wk:%Y-%m-%d}", s.title, _fmt(_mean([eff[c][1].sections.get(s.id) for c in cs]), lang)]
                                         + ([_fmt(_mean([eff[c][1].sections.get(s.id) for c in ts]), lang)] if team else []))
    rows["sections"] = []
    for s in rubric.sections:
        m = _mean([eff[c][1].sections.get(s.id) for c in mine])
        t = _mean([eff[c][1].sections.get(s.id) for c in theirs]) if team else None
        rows["sections"].append([s.title, _fmt(m, lang)] + ([_fmt(t, lang)] if team else []))
    rows["items"] = []
    for s, i in rubric.items():
        a, p, f, r = _rate(outcomes(mine, i.id))
        row = [i.title, s.title, str(a), str(p), str(f), _fmt(r, lang)]
        rows["items"].append(row + ([_fmt(_rate(outcomes(theirs, i.id))[3], lang)] if team else [])
                             + [_fmt(_rate(outcomes(before, i.id))[3], lang)])
    rows["metrics"] = []
    for m in METRICS:
        row = [labels(lang)[m], _fmt(_mean([world.calls[c]["metrics"][m] for c in mine]), lang, 2)]
        rows["metrics"].append(row + ([_fmt(_mean([world.calls[c]["metrics"][m] for c in theirs]), lang, 2)] if team else []))
    rows["profiles"] = []
    for prof in sorted({world.calls[c]["profile"] for c in mine} - {None}):
        cs = [c for c in mine if world.calls[c]["profile"] == prof]
        ts = [c for c in theirs if world.calls[c]["profile"] == prof]
        rows["profiles"].append([prof, str(len(cs)), _fmt(score(cs), lang)] + ([_fmt(score(ts), lang)] if team else []))
    rows["comments"] = sorted([[c, r.reviewer, r.comment] for c in mine for r in world.reviews.get(c, {}).values()
                               if r.comment])
    weak = sorted([r for r in rows["items"] if int(r[4]) > 0],
                  key=lambda r: (float(r[5].replace(",", ".")), -int(r[4]), r[0]))[:3]
    rows["weakest"] = [r[0] for r in weak]
    rows["csv"] = {(c, r.item_id): (r.outcome, world.reviews.get(c, {}).get(r.item_id)) for c in mine for r in eff[c][0]}
    return rows


# --- reading the outputs ----------------------------------------------------------------------------
class _Tables(HTMLParser):
    """The cell texts of every <table id=...>, row by row."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id"):
            self._table = self.tables.setdefault(dict(attrs)["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self._table.append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def html_tables(text: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(text)
    return {k: v[1:] for k, v in parser.tables.items()}  # without the header row


def pdf_lines(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [" ".join(line.split()) for line in out.splitlines()]


def assert_row_in_pdf(lines: list[str], cells: list[str]) -> None:
    """The numbers of a row appear, in order and adjacent, on one line of the PDF's text."""
    numeric = [c for c in cells[1:] if re.fullmatch(r"[-–\d.,]+", c)]
    words = cells[0].split()[0]
    wanted = " ".join(numeric)
    assert any(wanted in line and (words in line or len(cells[0]) > 18) for line in lines), (cells, wanted)


def _check_html(rows: dict, tables: dict, team: bool) -> None:
    summary = tables["summary"]
    for got, want in zip(summary, rows["summary"]):
        assert got[1:] == want[1:], (got, want)
    assert tables["weeks"] == rows["weeks"]
    assert tables["sections"] == rows["sections"]
    assert tables["section_weeks"] == rows["section_weeks"]
    assert tables["items"] == rows["items"]
    assert [r[1:] for r in tables["metrics"]] == [r[1:] for r in rows["metrics"]]
    assert sorted(tables.get("profiles", [])) == rows["profiles"]
    got_comments = sorted([[r[0], r[2], r[4]] for r in tables.get("comments", [])])
    assert got_comments == rows["comments"]


def _check_csv(path: Path, rows: dict) -> None:
    with path.open(encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert len(got) == len(rows["csv"])
    for r in got:
        outcome, review = rows["csv"][(r["call_id"], r["item_id"])]
        assert r["outcome"] == outcome
        assert r["reviewer"] == (review.reviewer if review else "")
        assert r["review_comment"] == ((review.comment or "") if review else "")
        if r["evidence_text"]:
            assert r["evidence_text"] == QUOTE and float(r["evidence_start_s"]) == 42.5


def _copy_store(world: World, tmp: Path) -> Path:
    """The world's store, reviews and access files copied into `tmp` (for a test that writes)."""
    import shutil

    for f in world.db.parent.glob("calls*.duckdb"):
        shutil.copy(f, tmp / f.name)
    return tmp / "calls.duckdb"


def _with_day_totals(world: World, tmp: Path) -> Path:
    """A copy of the store with the coaching day totals built (the pages then add those up, not item rows)."""
    from qa.access import day_totals

    _copy_store(world, tmp)
    day_totals.refresh(tmp / "calls.duckdb", "Europe/Istanbul")
    with duckdb.connect(str(tmp / "calls.duckdb"), read_only=True) as con:
        assert day_totals.usable(lambda sql: con.execute(sql).fetchall(), "Europe/Istanbul")
    return tmp / "calls.duckdb"


@pytest.mark.parametrize("subject, source", [("A1", "item rows"), ("B1", "item rows"), ("t1", "item rows"),
                                             ("A1", "day totals"), ("t1", "day totals")])
def test_every_number_matches_the_store(world: World, tmp_path: Path, subject: str, source: str) -> None:
    """Every figure, read from the item rows or (after a batch) from the day totals with reviews applied on top."""
    db = _with_day_totals(world, tmp_path) if source == "day totals" else world.db
    kwargs = {"team": subject} if subject.startswith("t") else {"agent": subject}
    team_of = {a: t for t, agents in TEAMS.items() for a in agents}
    agents = TEAMS[subject] if subject in TEAMS else [subject]
    comparison = None if subject in TEAMS else TEAMS[team_of[subject]]
    rubric_id = "tr_inbound" if agents[0].startswith("A") else "en_inbound"
    rows = expected(world, agents, comparison, rubric_id)
    outs = {fmt: generate(db, LOCAL_ADMIN, fmt, tmp_path / f"{subject}.{fmt}", since=SINCE, until=UNTIL,
                          **kwargs) for fmt in ("html", "pdf", "csv")}

    html = (tmp_path / f"{subject}.html").read_text(encoding="utf-8")
    _check_html(rows, html_tables(html), comparison is not None)
    lang = "tr" if rubric_id == "tr_inbound" else "en"
    assert ("Koçluk raporu" in html) == (lang == "tr") and ("Coaching report" in html) == (lang == "en")
    other = _rubric("en_inbound" if lang == "tr" else "tr_inbound")
    for _, item in other.items():  # never the other language's items
        assert f"<td>{item.title}</td>" not in html
    for chart in ("trend", "dist", "sections", "items"):  # every chart drawn (a template once printed a method's repr)
        assert f'id="{chart}-' in html, chart
    assert "built-in method" not in html
    headings = re.findall(r"<h3>\d\. (.*?):", html)
    assert headings == rows["weakest"]
    if subject == "A1":
        assert "en_inbound (2)" in html  # the two English calls are named, not mixed in
        # days are Istanbul's: the call at 00:30 there on 5 January is in (its first week), 01:30 on 2 February out
        assert "(days in Europe/Istanbul)" in html or "(günler Europe/Istanbul)" in html
        with (tmp_path / "A1.csv").open(encoding="utf-8") as f:
            ids = {r["call_id"]: r["started_at"] for r in csv.DictReader(f)}
        assert "c903" in ids and "c902" not in ids and ids["c903"].startswith("2026-01-05T00:30:00+0300")
        assert html_tables(html)["weeks"][0][0] == "2026-01-05"
        assert QUOTE in html and "0:42" in html  # a weakest item's example moment
    if subject == "t1":
        for agent in TEAMS["t1"]:
            assert any(NAMES[agent] in r[0] for r in html_tables(html)["agents"])

    lines = pdf_lines(tmp_path / f"{subject}.pdf")
    text = "\n".join(lines)
    assert (NAMES[subject] if subject in NAMES else "t1") in text  # Turkish letters survive in the PDF
    for key in ("weeks", "sections", "section_weeks", "items", "metrics", "profiles"):
        for cells in rows[key]:
            assert_row_in_pdf(lines, cells)
    for cells in rows["summary"][:3]:
        assert any(" ".join(c for c in cells[1:] if c) in line for line in lines), cells
    assert ("Sayfa 1 /" in text) == (lang == "tr")

    _check_csv(tmp_path / f"{subject}.csv", rows)

    pages = tmp_path / f"{subject}-page"
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(tmp_path / f"{subject}.pdf"), str(pages)], check=True)
    pngs = sorted(tmp_path.glob(f"{subject}-page*.png"))
    assert pngs and all(p.stat().st_size > 5000 for p in pngs)
    print(f"\nPDF pages of the {subject} report: {', '.join(map(str, pngs))}")

    audit = [r for r in AuditLog(db).rows(action="report") if r.target.endswith(f":{subject}")]
    assert len(audit) >= 3 and {r.detail["format"] for r in audit} >= {"html", "pdf", "csv"}


def _latest_fails(world: World, agents: list[str], rubric_id: str, item_id: str, n: int = 2) -> list[str]:
    """The newest `n` calls whose effective outcome of `item_id` is a failure (ties: call id)."""
    calls = [c for c in _mine(world, agents, rubric_id)
             if any(r.item_id == item_id and r.outcome == "fail" for r in _effective(world, c)[0])]
    return sorted(calls, key=lambda c: (-world.calls[c]["started"].timestamp(), c))[:n]


@pytest.mark.parametrize("subject, source", [("A1", "item rows"), ("A3", "item rows"), ("t1", "item rows"),
                                             ("t2", "item rows"), ("A1", "day totals"), ("t1", "day totals")])
def test_moments_are_the_latest_effective_failures(world: World, tmp_path: Path, subject: str, source: str) -> None:
    """The weakest items' example moments are the newest failing calls with reviews applied: a review that
    lifts the newest failure drops it, one that fails the newest pass adds it (on a copy of the store; with day
    totals, they only narrow where the failures are looked for)."""
    copy = World(_with_day_totals(world, tmp_path) if source == "day totals" else _copy_store(world, tmp_path))
    copy.calls, copy.reviews = world.calls, {c: dict(r) for c, r in world.reviews.items()}
    agents = TEAMS.get(subject, [subject])
    rubric = _rubric("tr_inbound" if agents[0].startswith("A") else "en_inbound")
    newest = sorted(_mine(copy, agents, rubric.id), key=lambda c: world.calls[c]["started"])[-1]
    outcome = {r.item_id: r.outcome for r in _effective(copy, newest)[0]}
    reviews = ReviewStore(copy.db)
    for item_id, was in outcome.items():  # every applicable item of the newest call flipped
        if was in ("pass", "fail"):
            flipped = "pass" if was == "fail" else "fail"
            review = reviews.save(newest, rubric.id, str(rubric.version), item_id, flipped, "Derya Koç", None)
            copy.reviews.setdefault(newest, {})[item_id] = review
    assert "fail" in {r.outcome for r in copy.reviews[newest].values()} and "pass" in outcome.values()
    from qa.coaching.generate import build

    report, _ = build(copy.db, LOCAL_ADMIN, None if subject in TEAMS else subject,
                      subject if subject in TEAMS else None, SINCE, UNTIL)
    assert report.weakest
    for item in report.weakest:
        expected_calls = _latest_fails(copy, agents, rubric.id, item["id"])
        assert [m["call_id"] for m in item["moments"]] == expected_calls, item["id"]
        assert (newest in expected_calls) == (outcome.get(item["id"]) == "pass")  # the flip shows either way


def test_day_totals_answer_only_while_current(world: World, tmp_path: Path) -> None:
    """The day totals answer only for the store they were built from and their time zone; a deletion rebuilds
    them; any other write sends the reads back to the item rows, with the same figures."""
    from qa.access import day_totals
    from qa.access.erase import delete_calls
    from qa.coaching.generate import build

    db = _with_day_totals(world, tmp_path)
    query = lambda sql: Store(db).query(sql)  # noqa: E731
    assert day_totals.usable(query, "Europe/Istanbul") and not day_totals.usable(query, "UTC")
    before, _ = build(db, LOCAL_ADMIN, None, "t1", SINCE, UNTIL)
    delete_calls(db, LOCAL_ADMIN, ["c001"])
    assert day_totals.usable(query, "Europe/Istanbul")
    after, _ = build(db, LOCAL_ADMIN, None, "t1", SINCE, UNTIL)
    assert after.summary["calls"] == before.summary["calls"] - (1 if "c001" in _mine(world, TEAMS["t1"], "tr_inbound") else 0)
    with duckdb.connect(str(db)) as con:  # a write that rebuilds nothing (a queue corrected by hand)
        con.execute("UPDATE calls SET queue = 'sales' WHERE call_id = 'c002'")
    assert not day_totals.usable(query, "Europe/Istanbul")
    live, _ = build(db, LOCAL_ADMIN, None, "t1", SINCE, UNTIL)
    day_totals.refresh(db, "Europe/Istanbul")
    rebuilt, _ = build(db, LOCAL_ADMIN, None, "t1", SINCE, UNTIL)
    assert day_totals.usable(query, "Europe/Istanbul")
    assert (live.items, live.agents) == (rebuilt.items, rebuilt.agents)  # counts: exact
    assert [(m["name"], pytest.approx(m["avg"])) for m in live.metrics] == [(m["name"], m["avg"]) for m in rebuilt.metrics]


def test_who_may_have_which_report(world: World, tmp_path: Path) -> None:
    directory = Directory(world.db)
    viewer = lambda who: directory.viewer(who, auth="test")
    ok = generate(world.db, viewer("a1@x"), "csv", tmp_path / "own.csv", agent="A1", since=SINCE, until=UNTIL)
    assert ok.data.calls["agent_id"].unique().tolist() == ["A1"]
    # the team line of an agent's own report is there, but no teammate's text
    assert ok.report.has_team and set(ok.data.team_item_counts.columns) == {
        "item_id", "critical", "applicable", "passed", "failed", "na"}
    denied = [("a1@x", {"agent": "A2"}), ("a1@x", {"team": "t1"}), ("lead1@x", {"team": "t2"}),
              ("lead1@x", {"agent": "B1"})]
    for who, kw in denied:
        with pytest.raises(AccessDenied):
            generate(world.db, viewer(who), "html", tmp_path / "no.html", since=SINCE, until=UNTIL, **kw)
        assert not (tmp_path / "no.html").exists()
    generate(world.db, viewer("lead1@x"), "html", tmp_path / "team.html", team="t1", since=SINCE, until=UNTIL)
    generate(world.db, viewer("lead1@x"), "html", tmp_path / "a3.html", agent="A3", since=SINCE, until=UNTIL)
    refused = AuditLog(world.db).rows(action="denied")
    assert {(r.actor, r.target) for r in refused} >= {("a1@x", "report:agent:A2"), ("lead1@x", "report:team:t2")}


def test_cli_report(world: World, tmp_path: Path) -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", "pipelines.cli", "report", "--db", str(world.db), *a],
                                    cwd=REPO, capture_output=True, text=True, timeout=120)
    out = tmp_path / "a1.pdf"
    ok = run("--agent", "A1", "--since", str(SINCE), "--until", str(UNTIL), "--out", str(out), "--as", "a1@x")
    assert ok.returncode == 0, ok.stderr
    assert out.read_bytes().startswith(b"%PDF") and "en_inbound (2 calls)" in ok.stdout
    no = run("--agent", "A2", "--since", str(SINCE), "--until", str(UNTIL), "--out", str(tmp_path / "x.pdf"),
             "--as", "a1@x")
    assert no.returncode == 1 and "access denied" in no.stderr and not (tmp_path / "x.pdf").exists()
    # narrowed to a queue and a language: every call of the world is in queue "support"
    for flags, rows in ((["--queue", "billing"], 0), (["--queue", "support", "--language", "tr"], None)):
        made = run("--agent", "A1", "--since", str(SINCE), "--until", str(UNTIL), "--out", str(tmp_path / "q.csv"), *flags)
        assert made.returncode == 0, made.stderr
        with (tmp_path / "q.csv").open(encoding="utf-8") as f:
            got = {r["call_id"] for r in csv.DictReader(f)}
        assert len(got) == (rows if rows is not None else len(_mine(world, ["A1"], "tr_inbound")))
    bad = run("--agent", "A1", "--since", "2026-02-01", "--until", "2026-01-01", "--out", str(tmp_path / "y.csv"))
    assert bad.returncode == 2 and "before" in bad.stderr


def test_weekly_reports_flow_writes_each_team_and_agent(world: World, tmp_path: Path, prefect_harness) -> None:
    from pipelines.report_flow import last_week, weekly_reports_flow

    assert last_week(date(2026, 1, 21)) == (date(2026, 1, 12), date(2026, 1, 18))
    counts = weekly_reports_flow(db=str(world.db), out_dir=str(tmp_path / "out"), formats=["pdf", "csv"],
                                 today="2026-01-21")
    folder = tmp_path / "out" / "2026-01-12_2026-01-18"
    names = sorted(p.name for p in folder.iterdir())
    subjects = ["team-t1", "team-t2"] + [f"agent-{a}" for a in ("A1", "A2", "A3", "B1", "B2")]
    assert names == sorted(f"{s}_2026-01-12_2026-01-18.{fmt}" for s in subjects for fmt in ("pdf", "csv"))
    assert counts == {"written": 14, "failed": 0}
    with (folder / "agent-A1_2026-01-12_2026-01-18.csv").open(encoding="utf-8") as f:
        started = {r["started_at"][:10] for r in csv.DictReader(f)}
    assert started and all("2026-01-12" <= d <= "2026-01-18" for d in started)
    runs = subprocess.run([sys.executable, "-m", "pipelines.cli", "runs", "--db", str(world.db)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert runs.returncode == 0 and "reports x1" in runs.stdout and "completed" in runs.stdout, runs.stdout
    scheduled = AuditLog(world.db).rows(user="scheduled-reports", action="report")
    assert len(scheduled) == 14


@pytest.mark.slow
def test_schedule_reports_deployment_runs_on_a_real_worker(world: World, tmp_path: Path, prefect_server) -> None:
    from tests.test_ops_schedule import PREFECT, _deployment

    env, out = prefect_server, tmp_path / "reports"
    cmd = [sys.executable, "-m", "pipelines.cli", "schedule-reports", "--cron", "0 6 * * 1", "--timezone",
           "Europe/Istanbul", "--out", str(out), "--db", str(world.db), "--pool", "callqa-reports-test",
           "--format", "pdf", "--format", "csv"]
    made = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    dep = _deployment(env, "callqa-weekly-reports/weekly")
    assert dep["schedules"] == [{"cron": "0 6 * * 1", "tz": "Europe/Istanbul", "active": True}]
    assert dep["parameters"] == {"db": str(world.db.resolve()), "out_dir": str(out.resolve()), "formats": ["pdf", "csv"]}
    bad = subprocess.run(cmd[:4] + ["not a cron"] + cmd[5:], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "cron" in bad.stderr
    run = subprocess.run([PREFECT, "deployment", "run", "callqa-weekly-reports/weekly", "--param", "today=2026-01-21"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    worker = subprocess.run([PREFECT, "worker", "start", "--pool", "callqa-reports-test", "--run-once"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=900)
    assert worker.returncode == 0, worker.stderr[-3000:]
    states = [r["state"] for r in _deployment(env, "callqa-weekly-reports/weekly")["runs"] if r["deployment"] == dep["id"]]
    assert "COMPLETED" in states, (states, worker.stdout[-3000:])
    assert (out / "2026-01-12_2026-01-18" / "team-t1_2026-01-12_2026-01-18.pdf").is_file()
    assert len(list((out / "2026-01-12_2026-01-18").iterdir())) == 14


def test_agent_page_shows_the_report_figures_and_downloads(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import page_texts, run_app

    monkeypatch.setenv("CALLQA_DB", str(world.db))
    monkeypatch.setenv("CALLQA_AUTH", "oidc")
    lead = {"is_logged_in": True, "email": "lead1@x", "sub": "sub-lead1"}
    at = run_app("views/agents.py", user=lead)
    assert at.title[0].value == "Agent coaching"
    assert set(at.selectbox(key="coach_subject_agent").options) == {f"{NAMES[a]} ({a})" for a in TEAMS["t1"]}
    at.date_input(key="coach_period").set_value((SINCE, UNTIL)).run()
    at.selectbox(key="coach_subject_agent").set_value("A1").run()
    assert not at.exception, [e.value for e in at.exception]
    # one rubric at a time: A1's Turkish calls by default, the two English ones a choice of their own
    rubric = at.selectbox(key="coach_rubric_agent_A1")
    assert rubric.value == "tr_inbound" and [o.split(" (")[0] for o in rubric.options] == ["tr_inbound", "en_inbound"]
    assert rubric.options[1] == "en_inbound (2 calls)"
    rows = expected(world, ["A1"], TEAMS["t1"], "tr_inbound")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Ortalama puan"] == rows["summary"][1][1] and metrics["Çağrı"] == rows["summary"][0][1]
    changed = next(t.value for t in at.table if "±" in t.value.columns and "" in t.value.columns).set_index("")
    assert changed.loc["Çağrı", "Önceki dönem"] == rows["summary"][0][-1]
    assert changed.loc["Ortalama puan", "Önceki dönem"] == rows["summary"][1][-1]
    assert changed.loc["Ortalama puan", "Bu dönem"] == rows["summary"][1][1]
    assert "," in changed.loc["Ortalama puan", "±"] and "." not in changed.loc["Ortalama puan", "±"]  # Turkish marks
    deltas = {m.label: m.proto.delta for m in at.metric}
    assert deltas["Ortalama puan"].endswith(" takıma göre") and "," in deltas["Ortalama puan"]
    assert "önceki dönem 2025-12-08 – 2026-01-04" in page_texts(at)
    text = page_texts(at)
    assert QUOTE in text and "0:42" in text  # a weakest item's moment: quote and time
    assert "Empathy" not in text  # never the English rubric's items on a Turkish page
    # play in place: the authorised audio route at the moment's time, never Streamlit's /media
    play = [b for b in at.button if b.key.startswith("coach_play_")]
    assert play
    play[0].click().run()
    audio = at.get("audio")
    assert audio and "/callqa/audio/" in audio[0].proto.url and "#t=" in audio[0].proto.url
    assert "/media/" not in audio[0].proto.url
    at.button(key="coach_dl_pdf_make").click().run()
    assert not at.exception
    assert [r.target for r in AuditLog(world.db).rows(user="lead1@x", action="report")][-1] == "agent:A1"
    assert any(b.label.startswith("Download agent-A1_") for b in at.get("download_button"))


# role x coaching page: (agents offered on the Agents page, teams offered on the Teams page); None = no figures
ROLE_PAGES = {
    "a1@x": ({"A1"}, None),  # an agent: only themselves, no team page
    "lead1@x": ({"A1", "A2", "A3"}, ["t1"]),  # a team lead: their team's agents and their team
    "lead2@x": ({"B1", "B2"}, ["t2"]),
    "admin@x": ({"A1", "A2", "A3", "B1", "B2"}, ["t1", "t2"]),
    "qa@x": ({"A1", "A2", "A3", "B1", "B2"}, ["t1", "t2"]),  # a reviewer of every call: as an admin
    "sup@x": (None, None),  # a reviewer limited to a queue: no coaching figures (README, Access)
}


@pytest.mark.parametrize("identity", list(ROLE_PAGES))
def test_coaching_pages_for_every_role(world: World, monkeypatch: pytest.MonkeyPatch, identity: str) -> None:
    from conftest import page_texts, run_app

    monkeypatch.setenv("CALLQA_DB", str(world.db))
    monkeypatch.setenv("CALLQA_AUTH", "oidc")
    user = {"is_logged_in": True, "email": identity, "sub": f"sub-{identity}"}
    agents, teams = ROLE_PAGES[identity]
    at = run_app("views/agents.py", user=user)
    if agents is None:
        assert not at.selectbox and not at.metric and "limited to queues" in page_texts(at)
    else:
        offered = {o.split("(")[-1].rstrip(")") for o in at.selectbox(key="coach_subject_agent").options}
        assert offered == agents
        for agent in sorted(agents)[:2]:  # their figures are there (and only theirs: the calls count)
            at.date_input(key="coach_period").set_value((SINCE, UNTIL)).run()
            at.selectbox(key="coach_subject_agent").set_value(agent).run()
            assert not at.exception, [e.value for e in at.exception]
            rubric = "tr_inbound" if agent.startswith("A") else "en_inbound"
            mine = _mine(world, [agent], rubric)
            assert {m.label: m.value for m in at.metric}[labels(rubric[:2])["calls"]] == str(len(mine))
    at = run_app("views/teams.py", user=user)
    if teams is None:
        assert not at.selectbox and not at.metric
        assert "limited to queues" in page_texts(at) or "for team leads" in page_texts(at)
    else:
        assert at.selectbox(key="coach_subject_team").options == teams
        at.date_input(key="coach_period").set_value((SINCE, UNTIL)).run()
        team = teams[-1]
        at.selectbox(key="coach_subject_team").set_value(team).run()
        assert not at.exception, [e.value for e in at.exception]
        rubric = "tr_inbound" if team == "t1" else "en_inbound"
        calls = _mine(world, TEAMS[team], rubric)
        assert {m.label: m.value for m in at.metric}[labels(rubric[:2])["calls"]] == str(len(calls))


def test_pdf_fetches_nothing_remote(caplog: pytest.LogCaptureFixture) -> None:
    """The PDF renderer takes local files and data: URLs only: a remote reference is refused, never fetched."""
    from qa.coaching import render

    with caplog.at_level("ERROR", logger="weasyprint"):
        out = render.pdf(None, '<p>x</p><img src="http://203.0.113.7/tracker.png">')  # type: ignore[arg-type]
    assert out.startswith(b"%PDF") and "disallowed protocol" in caplog.text
