"""Access control: roles x every read, pages as each signed-in role, redacted audio, audit, deletion, retention.

The store is a real DuckDB file with 120 calls of 60 agents in three queues (the store benchmark's
builder), plus two calls with real recordings (written here, with spoken-PII ranges) so the audio
path runs end to end. Users sign in through the same seam a real OIDC login fills (`st.user`
claims in AppTest); the real provider and the real server are in tests/test_access_server.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from conftest import page_texts, player_data, run_app

from benchmarks import bench_store
from qa.access.audio import call_audio
from qa.access.audit import AuditLog
from qa.access.directory import Directory
from qa.access.erase import apply_retention, delete_calls
from qa.access.model import LOCAL_ADMIN, AccessDenied
from qa.access.repository import DuckDBRepository
from qa.pipeline import file_sha256

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "dashboards" / "app.py")
INJECTIONS = ["' OR 1=1 --", "x'; DROP TABLE calls; --", "%' OR '1'='1", '") OR ("a"="a', "\\'; SELECT * FROM users; --",
              "call-0000001' UNION SELECT * FROM calls --"]

# identity -> (role, kwargs); A001/A002 are team t1's agents, led by lead@
USERS = {
    "admin@x": ("admin", {}),
    "lead@x": ("team_lead", {"teams": ["t1"]}),
    "billing@x": ("reviewer", {"queues": ["billing"]}),
    "qa@x": ("reviewer", {}),
    "a1@x": ("agent", {"agent_id": "A001", "teams": ["t1"]}),
    "a2@x": ("agent", {"agent_id": "A002", "teams": ["t1"]}),
    "a3@x": ("agent", {"agent_id": "A003"}),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("access")
    db = root / "calls.duckdb"
    bench_store.build_store(db, 120)
    sr = 8000
    t = np.arange(4 * sr) / sr
    for call_id in ("call-0000001", "call-0000002"):  # agents A001 and A002
        voice = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        path = root / f"{call_id}.wav"
        sf.write(path, voice, sr, subtype="PCM_16")
        con = duckdb.connect(str(db))
        con.execute("UPDATE calls SET source_path = ?, content_sha256 = ? WHERE call_id = ?",
                    [str(path), file_sha256(path), call_id])
        con.execute("INSERT INTO pii_redactions VALUES (?, 0, 'card', 1.0, 2.0, '[CARD]', true)", [call_id])
        con.close()
    directory = Directory(db)
    for identity, (role, kw) in USERS.items():
        directory.add(identity, role, **kw)
    return db


def _allowed(db: Path, identity: str) -> set[str]:
    """The ground truth, from the rows themselves (not from the layer under test)."""
    role, kw = USERS[identity]
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT call_id, agent_id, queue FROM calls").fetchall()
    con.close()
    if role == "admin" or (role == "reviewer" and not kw.get("queues")):
        return {r[0] for r in rows}
    if role == "reviewer":
        return {r[0] for r in rows if r[2] in kw["queues"]}
    agents = {"A001", "A002"} if role == "team_lead" else {kw["agent_id"]}
    return {r[0] for r in rows if r[1] in agents}


def _viewer(db: Path, identity: str):
    viewer = Directory(db).viewer(identity, "test")
    assert viewer is not None
    return viewer


@pytest.mark.parametrize("identity", list(USERS))
def test_every_read_is_scoped(store: Path, identity: str) -> None:
    """Role x read: nothing outside the viewer's calls comes back from any method, whatever id is asked for."""
    repo, viewer, allowed = DuckDBRepository(store), _viewer(store, identity), _allowed(store, identity)
    calls = repo.list_calls(viewer)
    assert set(calls["call_id"]) == allowed and allowed
    assert repo.status(viewer).calls_ok + repo.status(viewer).calls_failed == len(allowed)
    every = [f"call-{i:07d}" for i in range(120)]
    # calls of the viewer's own agent(s) and of others (A001, A002 and A003 are neighbours: i % 60), a failed one
    sample = sorted(allowed)[:2] + sorted(set(every) - allowed)[:5] + ["call-0000001", "call-0000002", "call-0000050"]
    for call_id in dict.fromkeys(sample):
        visible = call_id in allowed
        assert (repo.call(viewer, call_id) is not None) == visible
        conv = repo.conversation(viewer, call_id)
        for frame in (repo.utterances(viewer, call_id), repo.scores(viewer, call_id),
                      repo.item_results(viewer, call_id), repo.review_history(viewer, call_id),
                      conv.events, conv.profiles):
            assert visible or frame.empty
        if not visible:
            assert not conv.metrics and conv.sentiment is None and not repo.utterance_sentiment(viewer, call_id)
            with pytest.raises(AccessDenied):
                call_audio(repo, viewer, call_id)
    assert set(repo.failures(viewer)["call_id"]) <= allowed
    agents_seen = set(calls["agent_key"].dropna())
    assert set(repo.agent_summary(viewer)["agent_key"]) == {a for a in agents_seen}
    for other in ("A001", "A002", "A003", "A010"):  # an agent key typed into the coaching view
        rates = repo.item_pass_rates(viewer, other)
        coaching = repo.profile_coaching(viewer, other)
        if other not in agents_seen:
            assert rates.empty and coaching.empty
    assert {r["call_id"] for r in repo.summary_rows(viewer, every)} <= allowed


def test_unknown_identity_and_injection_strings(store: Path) -> None:
    directory, repo = Directory(store), DuckDBRepository(store)
    assert directory.viewer("nobody@x") is None
    viewer = _viewer(store, "a1@x")
    for bad in INJECTIONS:
        assert directory.viewer(bad) is None
        assert repo.call(viewer, bad) is None and repo.utterances(viewer, bad).empty
        assert repo.item_pass_rates(viewer, bad).empty and repo.profile_coaching(viewer, bad).empty
        assert AuditLog(store).rows(user=bad) == [] and AuditLog(store).rows(call_id=bad) == []
    from dashboards.data import CallFilter, filter_calls

    calls = repo.list_calls(viewer)
    for bad in INJECTIONS:
        assert filter_calls(calls, CallFilter(text=bad)).empty
        assert filter_calls(calls, CallFilter(agents=[bad], languages=[bad], bands=[bad], statuses=[bad])).empty
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 120  # nothing dropped
    con.close()


def test_reviews_apply_in_one_place(store: Path, tmp_path: Path) -> None:
    """After a review, the list, the call page items, the agent average, the item rates, the profile
    coaching and the CLI summary all show the same reviewed outcome."""
    db = tmp_path / "r.duckdb"
    bench_store.build_store(db, 120)
    Directory(db).add("qa@x", "reviewer")
    repo, qa = DuckDBRepository(db), Directory(db).viewer("qa@x")
    call = "call-0000003"  # agent A003, a profiled call (i % 3 == 0)
    items = repo.item_results(qa, call)
    failed = items[items["outcome"] == "fail"]
    item = failed.iloc[0] if len(failed) else items.iloc[0]
    before = repo.list_calls(qa).set_index("call_id").loc[call, "score_pct"]
    unreviewed = repo.agent_summary(qa).set_index("agent_key")  # the SQL path (no reviews yet)
    listed = repo.list_calls(qa)
    listed = listed[listed["status"] == "ok"]
    assert unreviewed.loc["A003", "avg_score"] == round(pd.to_numeric(
        listed.loc[listed["agent_key"] == "A003", "score_pct"]).mean(), 1)
    assert unreviewed["calls"].sum() == len(listed)
    before_rates = repo.item_pass_rates(qa, "A003").set_index("item_id")
    repo.save_review(qa, call, item["rubric_id"], item["rubric_version"], item["item_id"], "pass", "heard it")
    after = repo.list_calls(qa).set_index("call_id").loc[call]
    reviewed = repo.reviewed_score(qa, call, item["rubric_id"], item["rubric_version"])
    assert bool(after["reviewed"]) and reviewed is not None and after["score_pct"] == reviewed.score_pct
    assert repo.item_results(qa, call).set_index("item_id").loc[item["item_id"], "outcome"] == "pass"
    rates = repo.item_pass_rates(qa, "A003").set_index("item_id")
    if item["outcome"] == "fail":
        assert after["score_pct"] > before
        assert rates.loc[item["item_id"], "failed"] == before_rates.loc[item["item_id"], "failed"] - 1
    calls = repo.list_calls(qa)
    mine = calls[(calls["agent_key"] == "A003") & (calls["status"] == "ok")]
    assert repo.agent_summary(qa).set_index("agent_key").loc["A003", "avg_score"] == round(
        pd.to_numeric(mine["score_pct"]).mean(), 1)
    coaching = repo.profile_coaching(qa, "A003")
    profiled = mine[mine["call_id"].isin(duckdb.connect(str(db), read_only=True).execute(
        "SELECT call_id FROM call_profiles").df()["call_id"])]
    assert coaching["calls"].sum() == len(profiled)
    assert pd.to_numeric(coaching["avg_score"]).mul(coaching["calls"]).sum() == pytest.approx(
        pd.to_numeric(profiled["score_pct"]).sum())
    summary = {r["call_id"]: r for r in repo.summary_rows(qa, [call])}
    assert summary[call]["score_pct"] == after["score_pct"] and summary[call]["reviewed"]
    # an agent may not review, and a reviewer may not review a call outside their queues
    with pytest.raises(AccessDenied):
        Directory(db).add("a3@x", "agent", agent_id="A003")
        repo.save_review(Directory(db).viewer("a3@x"), call, item["rubric_id"], item["rubric_version"],
                         item["item_id"], "fail")


def test_audio_redacted_by_default_original_only_with_grant(store: Path) -> None:
    repo = DuckDBRepository(store)
    a1 = _viewer(store, "a1@x")
    clip = call_audio(repo, a1, "call-0000001")
    original, sr = sf.read(Path(repo.call(a1, "call-0000001").row["source_path"]), dtype="float32")
    heard, sr2 = sf.read(__import__("io").BytesIO(clip.data), dtype="float32")
    assert clip.redacted and sr2 == sr and len(heard) == len(original)
    inside, outside = slice(int(1.2 * sr), int(1.8 * sr)), slice(0, int(0.8 * sr))
    spectrum = np.abs(np.fft.rfft(heard[inside]))
    assert np.argmax(spectrum) * sr / (2 * (len(spectrum) - 1)) == pytest.approx(1000, abs=5)  # the tone
    assert np.max(np.abs(heard[outside] - original[outside])) < 1e-3  # the rest untouched
    with pytest.raises(AccessDenied, match="unmask_audio"):
        call_audio(repo, a1, "call-0000001", original=True)
    with pytest.raises(AccessDenied):
        call_audio(repo, a1, "call-0000002")  # A002's call
    Directory(store).add("dpo@x", "admin", grants=["unmask_audio"])
    dpo = _viewer(store, "dpo@x")
    raw, _ = sf.read(__import__("io").BytesIO(call_audio(repo, dpo, "call-0000001", original=True).data), dtype="float32")
    assert np.max(np.abs(raw - original)) < 1e-3


# --- pages as each role (AppTest, signed in through st.user claims) ---------------------------


@pytest.fixture
def oidc_app(store: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALLQA_DB", str(store))
    monkeypatch.setenv("CALLQA_AUTH", "oidc")

    def run(identity: str | None, page: str | None = None, call_id: str | None = None) -> AppTest:
        user = {"is_logged_in": True, "email": identity, "sub": f"sub-{identity}"} if identity else {"is_logged_in": False}
        return run_app(page, call_id, user)

    return run


def _page_text(at: AppTest) -> str:
    return page_texts(at)


@pytest.mark.parametrize("identity", list(USERS))
def test_pages_as_each_role(store: Path, oidc_app, identity: str) -> None:
    allowed = _allowed(store, identity)
    at = oidc_app(identity, "views/calls.py")
    listed = set(at.dataframe[0].value["call id"])
    assert listed == set(list(sorted(allowed, reverse=True))[:5000]) & listed and listed <= allowed and listed
    for key in ("f_q", "f_agent"):  # the search boxes (what was said, the agent): words, never SQL; scope kept
        for bad in INJECTIONS:
            at.text_input(key=key).input(bad).run()
            assert not at.exception
            found = set(at.dataframe[0].value["call id"]) if at.dataframe else set()
            assert found <= allowed and (found or any("No calls match" in i.value for i in at.info))
        at.text_input(key=key).input("").run()
    outside = sorted(set(f"call-{i:07d}" for i in range(120)) - allowed)
    inside = sorted(allowed)
    for call_id in [*outside[:3], *INJECTIONS[:2]]:  # ?call_id= in the URL
        page = oidc_app(identity, "views/call.py", call_id)
        assert "that you may see" in _page_text(page)
        assert player_data(page) is None and not page.metric
        assert "cq-item" not in " ".join(h.proto.body for h in page.get("html"))
    processed = [c for c in inside if int(c.split("-")[1]) % 50]  # bench_store: every 50th call failed processing
    page = oidc_app(identity, "views/call.py", processed[0])
    assert f"Call {processed[0]}" in _page_text(page).replace("Çağrı", "Call")  # the rubric's language
    assert player_data(page)["src"].endswith(f"/callqa/audio/{processed[0]}")
    picker = oidc_app(identity, "views/call.py").sidebar.selectbox[0].options
    assert set(picker) <= allowed
    agents = oidc_app(identity, "views/agents.py")
    if USERS[identity] == ("reviewer", {"queues": ["billing"]}):  # no coaching figures for part of an agent's calls
        assert not agents.selectbox and "limited to queues" in _page_text(agents)
        return
    seen = set(agents.selectbox(key="coach_subject_agent").options)
    keys = {r.split("(")[-1].rstrip(")") for r in seen}
    con = duckdb.connect(str(store), read_only=True)
    allowed_agents = {a for (a,) in con.execute("SELECT DISTINCT agent_id FROM calls WHERE list_contains(?, call_id)",
                                                [sorted(allowed)]).fetchall()}
    con.close()
    assert keys <= allowed_agents


def test_signed_out_and_unknown_users_see_no_call(store: Path, oidc_app) -> None:
    at = oidc_app(None)
    assert not at.dataframe and any(b.label == "Sign in" for b in at.button)
    at = oidc_app("stranger@x")
    assert at.title[0].value == "No access" and not at.dataframe
    assert AuditLog(store).rows(user="stranger@x", action="denied")


def test_none_mode_banner_and_audit_of_opened_calls(store: Path, monkeypatch: pytest.MonkeyPatch, oidc_app) -> None:
    page = oidc_app("a1@x", "views/call.py", "call-0000001")
    src = player_data(page)["src"]
    assert src.endswith("/callqa/audio/call-0000001") and "/media/" not in src
    assert AuditLog(store).rows(user="a1@x", call_id="call-0000001", action="open_call")
    monkeypatch.setenv("CALLQA_AUTH", "none")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert any("No login (auth = none)" in w.value for w in at.sidebar.warning)


def test_times_in_display_timezone(store: Path, oidc_app) -> None:
    page = oidc_app("admin@x", "views/call.py", "call-0000001")  # started 2026-01-01 08:00:37 UTC
    assert "2026-01-01 11:00 +03" in _page_text(page)


# --- audit, deletion, retention, CLI --------------------------------------------------------


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args, "--db", str(db)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_cli_users_audit_delete(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    bench_store.build_store(db, 60)
    rec = tmp_path / "call-0000005.wav"
    sf.write(rec, np.zeros(800, dtype=np.float32), 8000)
    rec.with_suffix(".json").write_text("{}")
    con = duckdb.connect(str(db))
    con.execute("UPDATE calls SET source_path = ? WHERE call_id = 'call-0000005'", [str(rec)])
    con.close()
    out = _cli("users", "add", "ayse@x", "--role", "agent", "--agent-id", "A005", "--team", "t1", db=db)
    assert out.returncode == 0, out.stderr
    assert _cli("users", "add", "lead@x", "--role", "team_lead", "--team", "t1", db=db).returncode == 0
    assert _cli("users", "add", "bad@x", "--role", "agent", db=db).returncode == 2  # no agent id
    listing = _cli("users", "list", db=db).stdout
    assert "ayse@x" in listing and "A005" in listing and "team_lead" in listing
    assert _cli("users", "set-role", "ayse@x", "reviewer", db=db).returncode == 0
    assert Directory(db).get("ayse@x").role == "reviewer"
    assert _cli("users", "remove", "ayse@x", db=db).returncode == 0 and Directory(db).get("ayse@x") is None
    DuckDBRepository(db).reviews.save("call-0000005", "tr_inbound", "1", "greet_company", "pass", "qa")
    deleted = _cli("delete", "call-0000005", "call-0000007", "--with-audio", db=db)
    assert deleted.returncode == 0, deleted.stderr
    con = duckdb.connect(str(db), read_only=True)
    for table in ("calls", "utterances", "speech_turns", "item_results", "call_scores", "call_metrics", "call_profiles"):
        assert con.execute(f"SELECT count(*) FROM {table} WHERE call_id IN ('call-0000005', 'call-0000007')").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 58
    con.close()
    assert not rec.exists() and not rec.with_suffix(".json").exists()
    assert DuckDBRepository(db).reviews.history("call-0000005") == []
    audit = _cli("audit", "--call", "call-0000005", db=db).stdout
    assert "delete_call" in audit and "call-0000005" in audit
    import getpass

    added = _cli("audit", "--user", getpass.getuser(), "--action", "user_add", "--since", "2000-01-01", db=db).stdout
    assert "user_add" in added and "ayse@x" in added and "2 row(s)" in added
    assert "0 row(s)" in _cli("audit", "--user", INJECTIONS[0], db=db).stdout
    assert "chain intact" in _cli("audit", "--verify", db=db).stdout


def test_audit_chain_detects_an_edit(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    log = AuditLog(db)
    for i in range(3):
        log.record(LOCAL_ADMIN, "open_call", f"c{i}")
    assert log.verify() == []
    con = duckdb.connect(str(log.file.path))
    con.execute("UPDATE audit SET call_id = 'other' WHERE seq = 2")
    con.close()
    assert log.verify() == [2]


def test_retention_deletes_or_anonymises_old_calls(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    bench_store.build_store(db, 40)  # started 2026-01-01 08:00 + i * 37 s
    now = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc) + timedelta(days=30, seconds=20 * 37)
    res = apply_retention(db, LOCAL_ADMIN, 30, "delete", now=now)
    assert len([r for r in res if r.found]) == 20
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 20
    con.close()
    res = apply_retention(db, LOCAL_ADMIN, 1, "anonymise", now=now)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 20  # kept, scores kept
    assert con.execute("SELECT count(*) FROM call_scores").fetchone()[0] > 0
    assert con.execute("SELECT count(*) FROM utterances WHERE text <> ''").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM calls WHERE customer_id IS NOT NULL OR source_path IS NOT NULL").fetchone()[0] == 0
    con.close()
    assert apply_retention(db, LOCAL_ADMIN, 1, "anonymise", now=now) == []  # idempotent
    assert len(AuditLog(db).rows(action="retention")) == 40
    with pytest.raises(AccessDenied):
        delete_calls(db, Directory(db).viewer("x") or _agent(), ["call-0000030"])


def _agent():
    from qa.access.model import Scope, Viewer

    return Viewer("a", "agent", Scope(agent_ids=("A001",)))


def test_cli_export_is_audited(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    run = _cli("export", "call-0000001", "--out", str(out), db=store)
    assert run.returncode == 0 and out.is_file(), run.stderr
    rows = AuditLog(store).rows(call_id="call-0000001", action="export")
    assert rows and rows[-1].target == str(out) and rows[-1].detail["covered_s"] > 0


def test_retention_runs_as_a_prefect_flow(prefect_harness, tmp_path: Path) -> None:
    from pipelines.retention import retention_flow

    db = tmp_path / "flow.duckdb"
    bench_store.build_store(db, 10)  # started on 2026-01-01: older than 1 day today
    summary = json.loads(retention_flow(db=str(db), days=1, action="anonymise"))
    assert summary["calls"] == 10 and summary["not_found"] == 0
    assert {r.actor for r in AuditLog(db).rows(action="retention")} == {"retention"}
    dry = _cli("retention", "--days", "1", "--dry-run", db=db)
    assert dry.returncode == 0 and "0 call(s) older than 1 days" in dry.stdout  # anonymised ones are done


def test_cli_rescore_is_audited(tmp_path: Path) -> None:
    db = tmp_path / "rs.duckdb"
    bench_store.build_store(db, 3)
    run = _cli("rescore", "call-0000001", db=db)
    assert run.returncode == 0, run.stderr
    rows = AuditLog(db).rows(action="rescore")
    assert len(rows) == 1 and rows[0].detail["calls"] == 1
