"""The reviewer's pages in AppTest (every page x every role) and their plain helpers, on a synthetic Turkish
store (`benchmarks/browser_store.py`: bench_store's calls scored with the real `tr_inbound` items).

Signed in through OIDC claims as `st.user` carries them; reviews, the queue, disputes and calibration go
through the real review desk (`qa.review`) into the real files beside the store.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from conftest import html_texts, page_texts, player_data, run_app

from benchmarks import browser_store
from dashboards import data, ui
from dashboards.call_words import Window, band_text, item_window, plain_reason, words
from dashboards.list_filters import ListFilters, carried
from dashboards.rubric_info import REPO_RUBRIC_DIR, rubric_info

REVIEWER = {"is_logged_in": True, "email": "zeynep@example.com", "sub": "z"}
LEAD = {"is_logged_in": True, "email": "lead@example.com", "sub": "l"}
AGENT = {"is_logged_in": True, "email": "agent3@example.com", "sub": "a"}
ADMIN = {"is_logged_in": True, "email": "admin@example.com", "sub": "m"}
ROLES = {"reviewer": REVIEWER, "team_lead": LEAD, "agent": AGENT, "admin": ADMIN}
PAGES = ("views/queue.py", "views/calls.py", "views/call.py", "views/disputes.py", "views/calibration.py",
         "views/agents.py", "views/teams.py")
TIMEOUT = 60


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qa.access.directory import Directory

    db = tmp_path_factory.mktemp("pages") / "calls.duckdb"
    browser_store.build(db, 40)
    con = duckdb.connect(str(db))
    # call-0000023 is auto-failed by the AI on the critical item, for something said at 00:10
    con.execute("UPDATE item_results SET outcome = 'fail', score = 0 WHERE call_id = 'call-0000023' AND item_id = 'no_overpromise'")
    con.execute("UPDATE call_scores SET auto_failed = true, score_pct = 0, band = 'needs_coaching', reason = "
                "'critical item failed: no_overpromise (said a forbidden phrase ~ ''söz veriyorum'')' WHERE call_id = 'call-0000023'")
    con.close()
    d = Directory(db)
    d.add("zeynep@example.com", "reviewer", display_name="Zeynep Kaya")
    d.add("lead@example.com", "team_lead", display_name="Murat Lider", teams=["t1"])
    d.add("agent3@example.com", "agent", agent_id="A003", teams=["t1"], display_name="Agent 003")
    d.add("admin@example.com", "admin", display_name="Admin")
    return db


@pytest.fixture
def env(store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CALLQA_DB", str(store))
    monkeypatch.setenv("CALLQA_AUTH", "oidc")
    monkeypatch.setenv("CALLQA_RUBRIC_DIR", str(REPO_RUBRIC_DIR))
    return store


def _viewer(db: Path, claims: dict):
    from qa.access.identity import resolve_viewer

    return resolve_viewer(db, "oidc", [claims["email"]])


def _desk(db: Path):
    from qa.review.desk import ReviewDesk

    return ReviewDesk(data.repo(db))


# --- plain helpers ---------------------------------------------------------------------------------------

def test_list_filters_round_trip_through_the_url() -> None:
    f = ListFilters(q="siparisimin", item="greet_company", direction=("outbound", "inbound"), roles_uncertain=True,
                    trend=("worsened",), date_from=date(2026, 1, 2), page=3)
    params = f.to_params()
    assert params == {"q": "siparisimin", "item": "greet_company", "dir": "inbound,outbound", "roles": "1",
                      "trend": "worsened", "from": "2026-01-02", "page": "3"}
    assert ListFilters.from_params(params) == ListFilters.from_params({**params, "call_id": "x"})
    back = ListFilters.from_params(params)
    assert back.direction == ("inbound", "outbound") and back.page == 3 and back.roles_uncertain
    assert ListFilters.from_params({"reviewed": "bogus", "page": "x", "from": "nope"}) == ListFilters()
    assert carried({"call_id": "c", "q": "kargo", "t": "12"}) == {"q": "kargo"}
    query = back.query(50, 100)
    assert (query.text, query.failed_item, list(query.direction), query.roles_uncertain, query.offset) == (
        "siparisimin", "greet_company", ["inbound", "outbound"], True, 100)


def test_plain_words_in_the_rubrics_language() -> None:
    tr = rubric_info("tr_inbound", REPO_RUBRIC_DIR)
    en = rubric_info("en_inbound", REPO_RUBRIC_DIR)
    assert tr.language == "tr" and en.language == "en" and tr.bands[0] == ("exceeds", 90.0)
    greet_tr, greet_en = tr.items["greet_company"].check, en.items["greet_company"].check
    assert plain_reason(greet_tr, "fail", None, "x", "tr") == "Temsilci ilk 30 saniyede söylemedi."
    assert plain_reason(greet_en, "fail", None, "x", "en") == "Not said by the agent in the first 30 s."
    assert plain_reason(greet_tr, "pass", 12.0, "x", "tr") == "00:12 anında söylendi."
    overpromise = tr.items["no_overpromise"].check
    assert plain_reason(overpromise, "fail", 75.0, "x", "tr") == "01:15 anında izin verilmeyen bir ifade söylendi."
    assert plain_reason(overpromise, "na", None, "x", "tr") == "Bu çağrıda uygulanmaz."
    assert item_window(greet_tr, 300.0) == Window(0.0, 30.0)
    assert item_window(greet_tr, 12.0) == Window(0.0, 12.0)
    closing = tr.items["thank_goodbye"].check
    assert item_window(closing, 300.0) is not None and item_window(closing, 300.0).end_s == 300.0
    assert band_text("needs_coaching", "tr") == "Koçluk gerekli" and band_text("meets", "en") == "Meets"
    assert words("tr")["fail"] == "başarısız" and words("en")["auto_fail"] == "AUTO-FAIL"  # report labels reused


def test_store_version_changes_with_a_review_not_with_an_audit_row(store: Path) -> None:
    from qa.access.audit import AuditLog

    before = ui.store_version(str(store))
    AuditLog(store).record(_viewer(store, ADMIN), "open_call", "call-0000001")
    assert ui.store_version(str(store)) == before
    _desk(store).comment(_viewer(store, REVIEWER), "call-0000002", "version check")
    after = ui.store_version(str(store))
    assert after != before and ui.store_version(str(store), main_only=True) == tuple(
        s for s in after if s[0] in (store.name, store.name + ".wal"))


# --- every page x every role ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_for_every_role(env: Path, role: str) -> None:
    """Each page a role has renders without an error; agents have no queue and no calibration page."""
    for page in PAGES:
        if role == "agent" and page in ("views/queue.py", "views/calibration.py"):
            at = run_app(page, None, ROLES[role], TIMEOUT)  # routable (no "Page not found"), not listed, refused
            assert "Review queue" not in [p.proto.label for p in at.get("page_link")]
            assert "have a review queue" in page_texts(at) or "Calibration is for reviewers" in page_texts(at)
            continue
        at = run_app(page, "call-0000003" if page == "views/call.py" else None, ROLES[role], TIMEOUT)
        text = page_texts(at)
        assert not at.exception and "No access" not in text, (role, page)
        if page == "views/queue.py":
            assert "Review queue" in text
        if page == "views/call.py":
            assert player_data(at) is not None, role  # agent A003 owns call-0000003; the others see it by role
            assert "Çağrı call-0000003" in text and "Konuşma dökümü" in text
            assert ("Bu maddeyi incele" in text) == (role != "agent")
            assert ("Bu maddeye itiraz et" in text) == (role == "agent")


def test_agent_sees_only_own_calls(env: Path) -> None:
    at = run_app("views/call.py", "call-0000004", AGENT, TIMEOUT)
    assert "No call with id `call-0000004` that you may see." in page_texts(at)
    at = run_app("views/calls.py", None, AGENT, TIMEOUT)
    assert set(at.dataframe[0].value["call id"]) == {f"call-{i:07d}" for i in range(3, 40, 60)}


def test_turkish_call_page_top_plain_reason_and_window(env: Path, store: Path) -> None:
    con = duckdb.connect(str(store))
    con.execute("""UPDATE item_results SET outcome = 'fail', score = 0, evidence_text = NULL, evidence_start_s = NULL
                   WHERE call_id = 'call-0000007' AND item_id = 'greet_company'""")
    con.close()
    at = run_app("views/call.py", "call-0000007", REVIEWER, TIMEOUT)
    text = html_texts(at)
    assert text.startswith("Puan") and "Selamlama ve firma adı" in text
    assert "Temsilci ilk 30 saniyede söylemedi." in text and "Aralığı dinle 00:00–00:30" in text
    assert "Koçluk: Çağrıyı her zaman firma adıyla" in text  # the rubric's coaching, Turkish label
    assert "Why:" not in text and "greet_company" not in text
    assert player_data(at)["src"].endswith("/callqa/audio/call-0000007")


def test_auto_fail_with_item_title_then_lifted_by_a_review_with_a_reason(env: Path, store: Path) -> None:
    at = run_app("views/call.py", "call-0000023", REVIEWER, TIMEOUT)
    banner = html_texts(at)
    assert "OTOMATİK BAŞARISIZ — kritik bir madde başarısız: Yetki dışı söz vermeme" in banner
    assert "no_overpromise" not in banner
    # overturning the critical item without a reason is refused, with the reason why
    at.selectbox(key="rv_item").set_value("no_overpromise")
    at.radio(key="rv_outcome").set_value("pass")
    at.button(key="FormSubmitter:rv_form-İncelemeyi kaydet").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "İnceleme kaydedilmedi" in errors and "reason is required" in errors
    at.selectbox(key="rv_item").set_value("no_overpromise")
    at.radio(key="rv_outcome").set_value("pass")
    at.text_input(key="rv_reason").input("Söz vermedi, süreci anlattı")
    at.button(key="FormSubmitter:rv_form-İncelemeyi kaydet").click().run()
    assert not at.exception
    text = html_texts(at)
    assert "OTOMATİK BAŞARISIZ —" not in text and "inceleyen Zeynep Kaya" in text
    assert "lifted by Zeynep Kaya" in text or "kaldırdı" in text  # the AI's auto-fail is still told
    assert "inceleme sonrası · otomatik 0.0 %" in text
    assert "Söz vermedi, süreci anlattı" not in page_texts(at)  # the history is read when asked for
    at.toggle(key="callqa_show_history").set_value(True).run()
    timeline = page_texts(at)
    assert "Zeynep Kaya" in timeline and "Söz vermedi, süreci anlattı" in timeline


def test_sign_off_marks_the_queue_entry_done_and_the_queue_page_says_why(env: Path, store: Path) -> None:
    desk = _desk(store)
    admin = _viewer(store, ADMIN)
    desk.set_rules(admin, desk.rules(admin).model_copy(update={"per_agent_week": 1}))
    desk.fill(admin)
    at = run_app("views/queue.py", None, REVIEWER, TIMEOUT)
    table = at.dataframe[0].value
    assert len(table) >= 3 and table["why in the queue"].str.contains("random sample").any()
    first = str(table.iloc[0]["call"])
    at = run_app("views/call.py", first, REVIEWER, TIMEOUT)
    assert f"1 / {len(table)}" in page_texts(at)  # position in the reviewer's own queue
    at.radio(key="so_verdict").set_value("disagree")
    at.text_area(key="so_comment").input("Kapanış eksik")
    at.button(key="FormSubmitter:so_form-Onayla").click().run()
    assert "Onaylandı" in page_texts(at)
    statuses = {e.call_id: e.status for e in desk.queue(_viewer(store, REVIEWER))}
    assert statuses[first] == "done"


def test_dispute_raised_by_the_agent_decided_by_the_team_lead(env: Path, store: Path) -> None:
    at = run_app("views/call.py", "call-0000003", AGENT, TIMEOUT)
    at.selectbox(key="dp_item").set_value("empathy")
    at.text_area(key="dp_comment").input("Empati kurdum, 01:00'de")
    at.button(key="FormSubmitter:dp_form-İtirazı gönder").click().run()
    assert "İtiraz takım liderinize gönderildi" in page_texts(at)
    lead = run_app("views/disputes.py", None, LEAD, TIMEOUT)
    assert "Empati kurdum" in page_texts(lead)
    dispute = _desk(store).disputes(_viewer(store, LEAD), status="open")[0]
    lead.text_input(key=f"dr_{dispute.dispute_id}").input("Dinledim, doğru")
    lead.button(key=f"da_{dispute.dispute_id}").click().run()
    assert "Dispute accepted" in page_texts(lead)
    decided = _desk(store).disputes(_viewer(store, LEAD), call_id="call-0000003")[0]
    assert decided.status == "accepted" and decided.decided_by == "Murat Lider"


def test_calibration_page_shows_agreement_after_reviews(env: Path, store: Path) -> None:
    desk = _desk(store)
    rev = _viewer(store, REVIEWER)
    for cid in ("call-0000010", "call-0000011", "call-0000012"):
        desk.override(rev, cid, "empathy", "fail", "ses tonu soğuk")
    at = run_app("views/calibration.py", None, REVIEWER, TIMEOUT)
    text = page_texts(at)
    assert "Items that most need tuning" in text and "Empati" in text
    assert any(m.label.startswith("Overall kappa") for m in at.metric)


def test_calls_page_search_and_filters_from_the_url(env: Path) -> None:
    at = run_app("views/calls.py", None, REVIEWER, TIMEOUT)
    at.text_input(key="f_q").input("TESEKKUR").run()  # no Turkish letters, upper case
    assert at.query_params.get("q") == "TESEKKUR"
    table = at.dataframe[0].value
    assert len(table) > 0 and table["said"].str.contains("teşekkür").all()
    at.query_params["dir"] = "outbound"
    at.run()
    assert set(at.dataframe[0].value["dir."]) == {"outbound"}
    assert at.multiselect(key="f_dir").value == ["outbound"]  # the widget shows what the URL says
