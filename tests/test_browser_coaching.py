"""The Agents and Teams coaching pages in a real browser (headless Chromium, a real IdP, `callqa dashboard
--auth oidc`) on the coaching report test's store: both pages render their charts and tables, a moment
plays in place from callqa's own audio route, nothing is fetched off the machine; screenshots are kept
in pytest's tmp dir (the paths are printed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.browser import Browser, BrowserUnavailable, Dashboard, User, button, css, text
from tests.test_coaching_report import _build

pytest.importorskip("oidc_provider_mock")
pytestmark = pytest.mark.browser


def _requests(browser: Browser) -> list[str]:
    """Every URL the page asked for (Chromium's performance log)."""
    urls = []
    for entry in browser.driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def test_agent_and_team_pages_in_a_browser(tmp_path: Path) -> None:
    world = _build(tmp_path / "calls.duckdb")
    users = [User("lead", "lead1@x", "team_lead", team="t1", name="Leyla Lead")]
    try:
        browser = Browser(1366, 900, performance_log=True)
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    with Dashboard(world.db, users, tmp_path / "dash") as dash, browser as b:
        b.sign_in(dash, "lead")
        _requests(b)  # drained: the mock IdP's own login page links a CDN stylesheet (not callqa's)
        b.open(dash.url("/agents"), until=css("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg"))
        agent_shot = b.screenshot(tmp_path / "agent.png", full_page=True)
        page = b.page_text()
        assert "Agent coaching" in page and "Ortalama puan" in page and "En zayıf maddeler" in page, page[:2000]
        assert b.js("return document.querySelectorAll('[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg').length") >= 3  # trend, distribution, sections

        # a weakest item's moment plays here, from callqa's audio route at its time
        seconds = b.click_to_rendered(button("Play"), until=css("audio"))
        src = b.js("return document.querySelector('audio').getAttribute('src')")
        assert "/callqa/audio/" in src and "#t=" in src and "/media/" not in src

        b.click_to_rendered(button("Teams", exact=True), until=text("Team coaching"))
        b.wait_settled(until=css("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg"))
        team_shot = b.screenshot(tmp_path / "team.png", full_page=True)
        team_page = b.page_text()  # (table cells are drawn on a canvas: not in the text)
        assert "Team coaching" in team_page and "Temsilciler" in team_page and "En zayıf maddeler" in team_page

        asked = _requests(b)
        off_machine = [u for u in asked if u.startswith(("http:", "https:", "ws:", "wss:"))
                       and not u.split("//", 1)[1].startswith(("127.0.0.1", "localhost"))]
        assert asked and off_machine == [], off_machine  # the pages and their charts fetch nothing from outside
    for shot in (agent_shot, team_shot):
        assert shot.stat().st_size > 30_000
    print(f"\nscreenshots: {agent_shot}, {team_shot}; play click to rendered {seconds:.2f} s")
