"""A reviewer's clicks in a real browser at 10k and 100k calls: click to rendered, p50 / p95.

Headless Chromium (`benchmarks/browser.py`) signed in through a real identity provider to a real
`callqa dashboard --auth oidc` on a synthetic store (`bench_store`, Turkish `tr_inbound` items, 40
utterances per call, the first calls playable: `browser_store`), with a review queue filled by the
sampling rules. Each click is timed from just before it until the page shows what it asked for
and Streamlit has finished (nothing running, nothing stale). The baseline, measured in the same run,
is the floor of any click in this app: switching to an almost empty page (Disputes, none open).

    python -m benchmarks.bench_browser                   # 10k and 100k calls, 20 clicks each
    python -m benchmarks.bench_browser --sizes 300 --reps 3     # harness check
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import browser_store
from benchmarks.browser import Browser, Dashboard, User, button, css, js, text
from benchmarks.common import machine, machine_line, write_result

REVIEWER = User("b1", "bench-reviewer@example.com", "reviewer", name="Bench Reviewer")
ADMIN = User("b2", "bench-admin@example.com", "admin", name="Bench Admin")
GOAL_S = 1.0
BASELINE = "baseline: switch to an almost empty page"
ACTIONS = ("open the queue", "open a call", "play a moment", "save a review", "next call", "apply a filter",
           "search transcripts")
WORDS = ("siparisimin", "tesekkur", "kargo", "yardimci", "kontrol", "kusura", "teslim", "ogrenmek")
ITEMS = ("Selamlama ve firma adı", "Kimlik doğrulama", "Empati", "Ek yardım teklifi")


def _p(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _summary(samples: list[float]) -> dict[str, float]:
    return {"p50_s": round(statistics.median(samples), 3), "p95_s": round(_p(samples, 0.95), 3),
            "max_s": round(max(samples), 3), "n": len(samples)}


def _prepare(db: Path, n_calls: int) -> dict[str, Any]:
    """The store, its search index and a review queue (2 random calls per agent per week + auto-fails)."""
    from dashboards import data
    from qa.access.directory import Directory
    from qa.access.identity import resolve_viewer
    from qa.access.model import LOCAL_ADMIN
    from qa.access.query import CallQuery
    from qa.review.desk import ReviewDesk

    t0 = time.perf_counter()
    info = browser_store.build(db, n_calls)
    repo = data.repo(db)
    repo.find_calls(LOCAL_ADMIN, CallQuery(text="kargo", limit=1))  # builds the search index once (store upgrade)
    for u in (REVIEWER, ADMIN):
        Directory(db).add(u.email, u.role, display_name=u.name, replace=True)
    admin = resolve_viewer(db, "oidc", [ADMIN.email])
    desk = ReviewDesk(repo)
    desk.set_rules(admin, desk.rules(admin).model_copy(update={
        "per_agent_week": 2, "near_threshold": False, "sentiment_falling": False, "roles_uncertain_below": None}))
    filled = desk.fill(admin)
    return {**info, "queue_added": filled.added, "prepare_s": round(time.perf_counter() - t0, 1)}


def _current_call(b: Browser) -> str:
    return b.js("return new URLSearchParams(location.search).get('call_id') || ''")


def _call_shown(call_id: str | None = None) -> Any:
    want = f"new URLSearchParams(location.search).get('call_id') === {call_id!r} && " if call_id else ""
    return js(want + "document.querySelector('audio') !== null && document.querySelector('.cq-score') !== null"
              " && document.querySelector('.callqa-utt') !== null")


def measure(b: Browser, dash: Dashboard, reps: int, log: Callable[[str], None] = print) -> dict[str, list[float]]:
    """`reps` clicks of each kind; returns seconds per kind."""
    out: dict[str, list[float]] = {k: [] for k in (BASELINE, *ACTIONS)}
    b.sign_in(dash, REVIEWER.sub)
    b.open(dash.url("/queue"), until=css("[data-testid=stDataFrame]"))
    for rep in range(reps):
        # baseline, and opening the queue from another page (the sidebar link)
        out[BASELINE].append(b.click_to_rendered(button("Disputes", exact=True), until=text("No disputes here.")))
        out["open the queue"].append(b.click_to_rendered(button("Review queue", exact=True),
                                                         until=css("[data-testid=stDataFrame]")))
        # open the next call of the queue
        out["open a call"].append(b.click_to_rendered(button("Start with the next call"), until=_call_shown()))
        # play a moment (evidence), in the browser
        click = "const e = document.querySelectorAll('.cq-quote .callqa-seek-btn'); e[arguments[0] % e.length].click();"
        target = b.js("const e = document.querySelectorAll('.cq-quote .callqa-seek-btn');"
                      " return parseFloat(e[arguments[0] % e.length].dataset.callqaSeek);", rep)
        b.js("const a = document.querySelector('audio'); a.pause(); a.currentTime = 250;")
        out["play a moment"].append(b.click_to_rendered(
            lambda d: d.execute_script(click, rep),
            js(f"Math.abs(document.querySelector('audio').currentTime - {target}) < 1.0"), need_run=False))
        # save a review of a non-critical item (outcome alternates, a reason given)
        b.choose("Madde", ITEMS[rep % len(ITEMS)])(b.driver)
        b.wait_settled()
        b.radio(("başarısız", "başarılı")[rep % 2])(b.driver)
        b.fill("Gerekçe (kritik maddede zorunlu)", f"bench {rep}", enter=False)(b.driver)
        out["save a review"].append(b.click_to_rendered(button("İncelemeyi kaydet"), until=text("Kaydedildi")))
        # the next call in the queue
        before = _current_call(b)
        out["next call"].append(b.click_to_rendered(
            button("Sonraki çağrı"), until=js(f"new URLSearchParams(location.search).get('call_id') !== {before!r}"
                                              " && document.querySelector('.cq-score') !== null")))
        # the calls list (the sidebar link): a filter, then a transcript search
        b.click_to_rendered(button("Calls", exact=True), until=css("[data-testid=stDataFrame]"))
        item = ("greet_company", "empathy")[rep % 2]
        title = ("Selamlama ve firma adı", "Empati")[rep % 2]
        out["apply a filter"].append(b.click_to_rendered(
            b.choose("Failed item", title), until=js(f"location.search.includes('item={item}') && "
                                                     "document.querySelector('[data-testid=stDataFrame]') !== null")))
        word = WORDS[rep % len(WORDS)]
        out["search transcripts"].append(b.click_to_rendered(
            b.fill("Said in the call", word), until=js(f"location.search.includes('q={word}') && "
                                                       "document.querySelector('[data-testid=stDataFrame]') !== null")))
        b.click_to_rendered(button("Review queue", exact=True), until=css("[data-testid=stDataFrame]"))
        log(f"  rep {rep + 1}/{reps}: " + ", ".join(f"{k.split(':')[0]} {v[-1]:.2f}" for k, v in out.items()))
    return out


def run(sizes: tuple[int, ...] = (10_000, 100_000), reps: int = 20, width: int = 1366, height: int = 768) -> dict:
    result: dict[str, Any] = {"machine": machine(), "reps": reps, "window": f"{width}x{height}", "sizes": {}}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="callqa-bench-browser-") as tmp:
            db = Path(tmp) / "calls.duckdb"
            prep = _prepare(db, n)
            print(f"[browser] {n} calls: store and queue ready in {prep['prepare_s']} s", flush=True)
            load_before = os.getloadavg()
            with Dashboard(db, [REVIEWER, ADMIN], Path(tmp) / "dash") as dash, Browser(width, height) as b:
                samples = measure(b, dash, reps)
            load_after = os.getloadavg()
        base = statistics.median(samples[BASELINE])
        rows = {k: {**_summary(v), "x_baseline": round(statistics.median(v) / base, 2) if base else None}
                for k, v in samples.items()}
        result["sizes"][str(n)] = {"rows": rows, "prepare": prep, "load_avg_before": [round(x, 2) for x in load_before],
                                   "load_avg_after": [round(x, 2) for x in load_after]}
    result["markdown"] = to_markdown(result)
    return result


def to_markdown(result: dict) -> str:
    sizes = list(result["sizes"])
    head = "| click | " + " | ".join(f"{int(n):,} calls p50 / p95 (x baseline)" for n in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for key in (BASELINE, *ACTIONS):
        cells = []
        for n in sizes:
            r = result["sizes"][n]["rows"][key]
            flag = "" if r["p95_s"] <= GOAL_S or key == BASELINE else " **>1 s**"
            cells.append(f"{r['p50_s']:.2f} / {r['p95_s']:.2f} s ({r['x_baseline']:.1f}){flag}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    loads = "; ".join(f"{int(n):,} calls: load average {result['sizes'][n]['load_avg_before'][0]} before, "
                      f"{result['sizes'][n]['load_avg_after'][0]} after" for n in sizes)
    return (f"Browser clicks, headless Chromium {result['window']}, {result['reps']} of each; "
            f"{machine_line(result['machine'])}. {loads}.\n\n" + "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--reps", type=int, default=20)
    args = p.parse_args(argv)
    res = run(tuple(int(x) for x in args.sizes.split(",")), args.reps)
    write_result("bench_browser", res, res["markdown"])
    print(res["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
