"""A reviewer's day in a real browser: a real identity provider, a real `callqa dashboard --auth oidc`,
headless Chromium (`benchmarks/browser.py`) on a synthetic Turkish store (`benchmarks/browser_store.py`).

Covers: working through a queue of three calls; playing evidence, a transcript line and a missing
item's window (the <audio> element's currentTime moves there, every time the same button is clicked);
overriding a critical item (refused without a reason, saved with one); an agent's dispute accepted by
the team lead; a Turkish word typed without Turkish letters found in what was said. Every page is
saved as a screenshot in the directory the first test prints (pytest's tmp dir, `screens/`).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from benchmarks import browser_store
from benchmarks.browser import Browser, BrowserUnavailable, Dashboard, User, button, css, js, text

pytest.importorskip("oidc_provider_mock")
pytestmark = pytest.mark.browser

REVIEWER = User("u1", "zeynep@example.com", "reviewer", name="Zeynep Kaya")
LEAD = User("u2", "lead@example.com", "team_lead", team="t1", name="Murat Lider")
AGENT = User("u3", "agent3@example.com", "agent", agent_id="A003", team="t1", name="Agent 003")
ADMIN = User("u4", "admin@example.com", "admin", name="Admin")
PLAYABLE = "call-0000001"  # has a recording; greet_company failed for something not said (window: first 30 s)
AUDIO_TIME = "return document.querySelector('audio') ? document.querySelector('audio').currentTime : -1"


def _desk_or_skip():
    try:
        from qa.review.desk import ReviewDesk  # noqa: F401
    except ImportError:
        pytest.skip("the review desk (qa.review) is not in this checkout")


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("screens")
    print(f"\nscreenshots: {d}")
    return d


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("workbench")
    db = root / "calls.duckdb"
    browser_store.build(db, 40)
    con = duckdb.connect(str(db))
    con.execute("""UPDATE item_results SET outcome = 'fail', score = 0, evidence_text = NULL, evidence_start_s = NULL,
                     evidence_end_s = NULL, reason = '''{company}'' not said by the agent in the first 30 s'
                   WHERE call_id = ? AND item_id = 'greet_company'""", [PLAYABLE])
    con.close()
    with Dashboard(db, [REVIEWER, LEAD, AGENT, ADMIN], root / "dash") as d:
        yield d


@pytest.fixture
def browser():
    try:
        b = Browser(1366, 768)
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    with b:
        yield b


def _until(b: Browser, script: str, what: str, seconds: float = 20) -> object:
    deadline = time.monotonic() + seconds
    while not (value := b.js(script)):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def test_play_evidence_line_and_window_move_the_audio(dash: Dashboard, browser: Browser, screens: Path) -> None:
    b = browser
    b.sign_in(dash, REVIEWER.sub)
    b.open(dash.url(f"/call?call_id={PLAYABLE}"), until=css("audio"))
    b.screenshot(screens / "call.png")
    b.screenshot(screens / "call_full.png", full_page=True)
    src = b.js("return document.querySelector('audio').src")
    assert f"/callqa/audio/{PLAYABLE}" in src and "/media/" not in src
    _until(b, "return document.querySelector('audio').duration > 299", "the recording did not load")  # 5 min WAV
    # the score, band and transcript's first line are in the first screen at 1366x768
    assert b.js("const s = document.querySelector('.cq-score'); return s && s.getBoundingClientRect().bottom < 768")
    assert b.js("const t = document.querySelector('.callqa-transcript'); return t && t.scrollTop === 0")
    # evidence: the first item with a quote plays from its moment, and the same button seeks again
    evidence = b.js("const e = [...document.querySelectorAll('.cq-quote .callqa-seek-btn')][0];"
                    " return e && parseFloat(e.dataset.callqaSeek)")
    assert evidence is not None and evidence > 0
    click_evidence = "document.querySelector('.cq-quote .callqa-seek-btn').click(); return true;"
    b.click_to_rendered(lambda d: d.execute_script(click_evidence),
                        js(f"Math.abs(document.querySelector('audio').currentTime - {evidence}) < 1.5"), need_run=False)
    b.js("document.querySelector('audio').pause(); document.querySelector('audio').currentTime = 200;")
    _until(b, f"return Math.abs(document.querySelector('audio').currentTime - 200) < 1", "could not move the audio")
    b.click_to_rendered(lambda d: d.execute_script(click_evidence),
                        js(f"Math.abs(document.querySelector('audio').currentTime - {evidence}) < 1.5"), need_run=False)
    # a transcript line: plays from its start and is highlighted
    b.click_to_rendered(lambda d: d.execute_script("document.querySelectorAll('.callqa-utt')[6].click()"),
                        js("Math.abs(document.querySelector('audio').currentTime - 45) < 1.5"), need_run=False)
    _until(b, "const u = document.querySelectorAll('.callqa-utt')[6]; return u.classList.contains('callqa-playing')",
           "the playing line is not highlighted")
    b.screenshot(screens / "call_playing.png")
    # the item that failed for something not said plays its window (the first 30 s) and stops at its end
    window = b.js("const w = document.querySelector('.callqa-seek-btn[data-callqa-until]');"
                  " return w && [parseFloat(w.dataset.callqaSeek), parseFloat(w.dataset.callqaUntil)]")
    assert window == [0.0, 30.0]
    b.js("document.querySelector('audio').currentTime = 100;")
    b.click_to_rendered(lambda d: d.execute_script("document.querySelector('.callqa-seek-btn[data-callqa-until]').click()"),
                        js("document.querySelector('audio').currentTime < 2"), need_run=False)
    assert "Temsilci ilk 30 saniyede söylemedi." in b.page_text()


def test_override_critical_item_needs_a_reason(dash: Dashboard, browser: Browser, screens: Path) -> None:
    _desk_or_skip()
    b = browser
    b.sign_in(dash, REVIEWER.sub)
    b.open(dash.url("/call?call_id=call-0000005"), until=text("Bu maddeyi incele"))
    b.click_to_rendered(b.choose("Madde", "Yetki dışı söz"), until=text("Yetki dışı söz"), need_run=False)
    current = b.js("return document.querySelector('.cq-item[data-item=no_overpromise]').className")
    target = "başarısız" if " pass" in current else "başarılı"
    b.click_to_rendered(b.radio(target), until="true", need_run=False)
    b.click_to_rendered(button("İncelemeyi kaydet"), until=text("İnceleme kaydedilmedi"))
    assert "gerekçe" in b.page_text().lower() or "reason" in b.page_text().lower()
    b.screenshot(screens / "override_refused.png")
    b.click_to_rendered(b.choose("Madde", "Yetki dışı söz"), until="true", need_run=False)
    b.click_to_rendered(b.radio(target), until="true", need_run=False)
    b.fill("Gerekçe (kritik maddede zorunlu)", "Temsilci söz vermedi, sadece süreci anlattı", enter=False)(b.driver)
    seconds = b.click_to_rendered(button("İncelemeyi kaydet"), until=text("Kaydedildi"))
    assert 0 < seconds < 60
    assert "inceleyen Zeynep Kaya" in b.page_text()
    b.screenshot(screens / "override_saved.png")


def test_work_through_a_queue_of_three_calls(dash: Dashboard, browser: Browser, screens: Path) -> None:
    _desk_or_skip()
    from qa.access.identity import resolve_viewer
    from qa.review.desk import ReviewDesk

    from dashboards import data

    admin = resolve_viewer(dash.db, "oidc", [ADMIN.email])
    desk = ReviewDesk(data.repo(dash.db))
    desk.set_rules(admin, desk.rules(admin).model_copy(update={"per_agent_week": 1}))
    desk.fill(admin)
    reviewer = resolve_viewer(dash.db, "oidc", [REVIEWER.email])
    open_before = [e for e in desk.queue(reviewer) if e.status != "done"]
    assert len(open_before) >= 3
    b = browser
    b.sign_in(dash, REVIEWER.sub)
    b.open(dash.url("/queue"), until=css("[data-testid=stDataFrame]"))
    b.screenshot(screens / "queue.png")
    b.click_to_rendered(button("Start with the next call"), until=css("audio"))
    done = []
    for n in range(3):
        call_id = b.js("return new URLSearchParams(location.search).get('call_id')")
        assert call_id == open_before[n].call_id
        b.click_to_rendered(b.radio("İncelendi: yapay zekâ ile aynı fikirdeyim"), until="true", need_run=False)
        b.click_to_rendered(button("Onayla", exact=True), until=text("Onaylandı"))
        done.append(call_id)
        if n < 2:
            b.click_to_rendered(button("Sonraki çağrı"), until=js(
                f"new URLSearchParams(location.search).get('call_id') === {open_before[n + 1].call_id!r}"
                " && document.querySelector('audio') !== null"))
    b.screenshot(screens / "queue_call_signed_off.png")
    statuses = {e.call_id: e.status for e in desk.queue(reviewer, status=None)}
    assert all(statuses[c] == "done" for c in done)
    b.open(dash.url("/queue?status=done"), until=css("[data-testid=stDataFrame]"))
    b.screenshot(screens / "queue_done.png")


def test_agent_disputes_and_team_lead_accepts(dash: Dashboard, browser: Browser, screens: Path) -> None:
    _desk_or_skip()
    b = browser
    b.sign_in(dash, AGENT.sub)
    b.open(dash.url("/call?call_id=call-0000003"), until=text("Bu maddeye itiraz et"))
    before = b.js("return document.querySelector('.cq-item[data-item=restate_problem]').className.split(' ')[1]")
    assert before in ("pass", "fail")
    b.click_to_rendered(b.choose("Madde", "Sorunu özetleme"), until="true", need_run=False)
    b.fill("Sonuç neden yanlış", "Sorunu 00:40'ta özetledim", enter=False)(b.driver)
    try:
        b.click_to_rendered(button("İtirazı gönder"), until=text("İtiraz takım liderinize gönderildi"))
    finally:
        b.screenshot(screens / "dispute_raised.png", full_page=True)
    b.screenshot(screens / "dispute_raised.png")
    b.sign_in(dash, LEAD.sub)
    b.open(dash.url("/disputes"), until=text("Sorunu 00:40"))
    b.screenshot(screens / "disputes.png")
    b.fill("Your decision, in a sentence", "Dinledim, özetlemiş", enter=True)(b.driver)
    b.wait_settled()
    b.click_to_rendered(button("Accept", exact=True), until=text("Dispute accepted"))
    b.open(dash.url("/call?call_id=call-0000003"), until=css(".cq-item[data-item=restate_problem]"))
    after = b.js("return document.querySelector('.cq-item[data-item=restate_problem]').className.split(' ')[1]")
    assert after == {"pass": "fail", "fail": "pass"}[before]  # the score follows the accepted dispute
    b.screenshot(screens / "dispute_accepted_call.png")


def test_search_a_turkish_word_typed_without_turkish_letters(dash: Dashboard, browser: Browser, screens: Path) -> None:
    b = browser
    b.sign_in(dash, REVIEWER.sub)
    b.open(dash.url("/calls"), until=css("[data-testid=stDataFrame]"))
    b.screenshot(screens / "calls.png")
    b.click_to_rendered(b.fill("Said in the call", "siparisimin"), until=text("calls match"))
    assert "q=siparisimin" in b.driver.current_url
    b.screenshot(screens / "calls_search.png")
    # the filter survives opening a call and coming back; the call's transcript holds the word
    b.click_to_rendered(b.table_row(0), until=css("audio"))
    assert "q=siparisimin" in b.driver.current_url
    assert "siparişimin" in b.page_text()
    b.click_to_rendered(button("Listeye dön"), until=text("calls match"))
    assert "q=siparisimin" in b.driver.current_url
    assert b.js("return document.querySelector('input[aria-label=\"Said in the call\"]').value") == "siparisimin"
    # `/calls` opens the list itself (it used to be a "Page not found")
    b.open(dash.url("/calls?dir=outbound"), until=css("[data-testid=stDataFrame]"))
    assert "Page not found" not in b.page_text()


def test_every_page_as_every_role(dash: Dashboard, browser: Browser, screens: Path) -> None:
    """A screenshot of each page for each role, and no exception box anywhere."""
    b = browser
    for user in (REVIEWER, LEAD, AGENT):
        b.sign_in(dash, user.sub)
        for path in ("/queue", "/calls", "/call?call_id=call-0000003", "/disputes", "/calibration", "/agents",
                     "/teams"):
            b.open(dash.url(path))
            name = f"{user.role}_{path.strip('/').split('?')[0]}.png"
            b.screenshot(screens / name)
            assert not b.js("return document.querySelector('[data-testid=stException]')"), (user.role, path)
            assert "Page not found" not in b.page_text(), (user.role, path)
