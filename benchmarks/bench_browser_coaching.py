"""The coaching pages in a real browser: click to rendered for the Agents and Teams pages at 10k and 100k calls.

A real identity provider, `callqa dashboard --auth oidc` and headless Chromium (`benchmarks/browser.py`)
on the store benchmark's store (`bench_store.build_store`: 60 agents, calls 37 s apart), with teams
t1..t6 of ten agents each and an admin signed in through the provider's form. Each figure is from
just before the click (on a navigation link, or on an option of a select box already opened and typed
into: the click on the option) until Streamlit has finished the run, nothing
is stale and the page's charts are there (`Browser.click_to_rendered`).

Rows:
- baseline (same run): the Agents page again with its figures cached — Streamlit's run, the page's
  widgets, charts and tables and the browser's layout, without a query;
- Agents / Teams, first open after the server started (also imports matplotlib);
- Agents: choose another agent (cold: that agent's figures are not cached), p50 over the repeats;
- Teams: choose another team (cold), p50 over the repeats;
- Teams with its figures cached.

    python -m benchmarks.bench_browser_coaching                   # 10k and 100k calls
    python -m benchmarks.bench_browser_coaching --calls 2000 --repeats 2
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks import bench_store
from benchmarks.browser import Browser, Dashboard, User, button, css
from benchmarks.common import percentiles, ratio, sized_main, table

TEAMS = {f"t{t + 1}": [f"A{10 * t + k:03d}" for k in range(10)] for t in range(6)}  # the store's 60 agents
CHARTS = css("[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg")


def choose(b: Browser, index: int, value: str) -> Callable[[Any], None]:
    """Open the `index`-th select box and type `value` until the list offers it first (not timed); the returned
    action clicks that option (timed: the person's choice)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = b.driver
    box = driver.find_elements(By.CSS_SELECTOR, "[data-testid=stSelectbox] input")[index]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.click()
    box.send_keys(value)
    deadline = time.monotonic() + 30
    first = "const o = document.querySelector('[role=option]'); return o ? o.innerText : null;"
    while value not in (driver.execute_script(first) or ""):
        if time.monotonic() > deadline:
            raise AssertionError(f"no option {value!r} in select box {index}")
        time.sleep(0.05)
    time.sleep(0.2)  # the list has settled on it

    def act(_driver: Any) -> None:  # the option as it is now (the list re-renders while typing)
        clicked = driver.execute_script(
            "const o = [...document.querySelectorAll('[role=option]')].find(o => o.innerText.includes(arguments[0]));"
            "if (!o) return false; o.click(); return true;", value)
        if not clicked:
            box.send_keys(Keys.ENTER)
    act.__name__ = f"choose({index}, {value!r})"
    return act


def bench_size(n_calls: int, repeats: int, work: Path) -> list[dict[str, Any]]:
    db = work / f"calls_{n_calls}.duckdb"
    bench_store.build_store(db, n_calls)
    users = [User("adm", "admin@example.com", "admin", name="Ada Admin")]
    users += [User(f"u-{a}", f"{a.lower()}@example.com", "agent", agent_id=a, team=t)
              for t, agents in TEAMS.items() for a in agents]
    rows: list[dict[str, Any]] = []

    def row(what: str, samples: list[float]) -> None:
        rows.append({"calls": n_calls, "what": what, **percentiles(samples)})

    with Dashboard(db, users, work / f"dash_{n_calls}") as dash, Browser(1366, 900) as b:
        b.sign_in(dash, "adm")
        b.open(dash.url("/"), until=css("[data-testid=stDataFrame]"))
        first_agents = b.click_to_rendered(button("Agents", exact=True), until=CHARTS)
        first_teams = b.click_to_rendered(button("Teams", exact=True), until=CHARTS)
        base, agent_cold, team_cold, team_warm = [], [], [], []
        for k in range(repeats):
            base.append(b.click_to_rendered(button("Agents", exact=True), until=CHARTS))  # cached figures
            b.wait_settled(until=CHARTS)
            agent_cold.append(b.click_to_rendered(choose(b, 0, f"A{k + 1:03d}"), until=CHARTS))
            team_warm.append(b.click_to_rendered(button("Teams", exact=True), until=CHARTS))
            b.wait_settled(until=CHARTS)
            # t1 opens by default (and its figures are cached); t2, t3, ... are each chosen once: cold
            team_cold.append(b.click_to_rendered(choose(b, 0, f"t{k + 2}"), until=CHARTS))
            b.screenshot(work / f"teams_{n_calls}_{k}.png")
        row("baseline: Agents, figures cached", base)
        row("Agents, first open after server start", [first_agents])
        row("Agents: choose another agent (cold)", agent_cold)
        row("Teams, first open after server start", [first_teams])
        row("Teams: choose another team (cold)", team_cold)
        row("Teams, figures cached", team_warm)
    floor = rows[0]["p50_ms"]
    for r in rows:
        r["x_baseline"] = ratio(r["p50_ms"], floor)
    return rows


def run(sizes: tuple[int, ...] = (10_000, 100_000), repeats: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="callqa-bench-browser-") as work:
        rows = [r for n in sizes for r in bench_size(n, repeats, Path(work))]
    return {"sizes": list(sizes), "repeats": repeats, "rows": rows}


def to_markdown(res: dict[str, Any]) -> str:
    return (f"Coaching pages in headless Chromium, click to rendered (p50 of {res['repeats']} where repeated)\n\n"
            + table(res["rows"], ["calls", "what", "p50_ms", "max_ms", "x_baseline"],
                    ["calls", "what", "p50 ms", "max ms", "x baseline"]))


def main(argv: list[str] | None = None) -> int:
    return sized_main("bench_browser_coaching", __doc__, run, to_markdown, argv)


if __name__ == "__main__":
    raise SystemExit(main())
