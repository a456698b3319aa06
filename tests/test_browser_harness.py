"""The real-browser harness (`benchmarks/browser.py`): a real IdP, a real `callqa dashboard --auth oidc`,
headless Chromium; sign in, open a page, click and wait until Streamlit has finished the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_store
from benchmarks.browser import Browser, BrowserUnavailable, Dashboard, User, button, css, text

pytest.importorskip("oidc_provider_mock")
pytestmark = pytest.mark.browser


def test_harness_signs_in_and_measures_a_click(tmp_path: Path) -> None:
    db = tmp_path / "calls.duckdb"
    bench_store.build_store(db, 20)
    users = [User("u1", "rev@example.com", "reviewer", name="Zeynep Reviewer")]
    try:
        browser = Browser(1366, 768)
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    with Dashboard(db, users, tmp_path / "dash") as dash, browser as b:
        b.sign_in(dash, "u1")
        assert "Zeynep Reviewer" in b.page_text()
        b.open(dash.url("/agents"), until=text("Agents"))
        seconds = b.click_to_rendered(button("Calls", exact=True), until=css("[data-testid=stDataFrame]"))
        assert 0 < seconds < 60
        assert b.js("return document.querySelector('.stApp').getAttribute('data-test-script-state')") != "running"
        assert not b.js("return document.querySelector('[data-stale=true]')")
        shot = b.screenshot(tmp_path / "calls.png")
        assert shot.stat().st_size > 10_000
        print(f"harness: Agents -> Calls {seconds:.2f} s; screenshot {shot}")


def test_browser_benchmark_on_a_tiny_store() -> None:
    """`bench_browser` end to end at 120 calls, one click of each kind: every row measured, the table printed."""
    from benchmarks import bench_browser

    try:
        Browser(800, 600).quit()
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    res = bench_browser.run((120,), 1)
    rows = res["sizes"]["120"]["rows"]
    assert set(rows) == {bench_browser.BASELINE, *bench_browser.ACTIONS}
    assert all(r["n"] == 1 and r["p50_s"] > 0 for r in rows.values())
    assert "| open a call |" in res["markdown"] and "load average" in res["markdown"]
