"""A real browser against the real dashboard: what a person waits for between a click and a finished page.

    from benchmarks.browser import Dashboard, Browser, button, css, text

    with Dashboard(db, users=[User("u1", "ayse@example.com", "reviewer")], workdir=tmp) as dash, \\
            Browser(width=1366, height=768) as b:
        b.sign_in(dash, "u1")
        b.open(dash.url("/calls"), until=css("[data-testid=stDataFrame]"))
        seconds = b.click_to_rendered(button("Next call"), until=text("Call call-0000002"))
        b.screenshot(tmp / "call.png")

`Dashboard` starts a real identity provider (oidc-provider-mock, one `--user-claims` per user) and
`callqa dashboard --auth oidc` on the given store (its users added to callqa's users table first);
`Browser` is a headless Debian Chromium driven by Selenium (the flags GUIDE.md lists, a fresh profile)
that signs in through the provider's own form as a person does.

`click_to_rendered(action, until)` measures from just before the click until (1) `until` holds in the
page, (2) Streamlit is not running a script or fragment (`.stApp[data-test-script-state]` is not
`running`, no status widget), (3) no element is stale (`[data-stale=true]`, the greyed-out leftovers
of the previous run), and (4) a run that the click started (seen by a MutationObserver, so a run too
short to be polled still counts) has finished. The moment all four first hold is the measured time;
it must then stay true for `settle_s` (a run that starts later resets it), which is not counted.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required", "--mute-audio")
START_TIMEOUT_S = 120.0


class BrowserUnavailable(RuntimeError):
    """Chromium, chromium-driver or Selenium is not installed (`make test-slow` installs them)."""


@dataclass(frozen=True)
class User:
    """A user of the identity provider (`sub`, `email`) and their callqa role."""

    sub: str
    email: str
    role: str | None  # None: known to the identity provider only (callqa gives them no access)
    agent_id: str | None = None
    team: str | None = None
    queues: Sequence[str] = ()
    name: str | None = None
    grants: Sequence[str] = ()

    def claims(self) -> dict[str, Any]:
        return {"sub": self.sub, "email": self.email, **({"name": self.name} if self.name else {})}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, seconds: float = START_TIMEOUT_S) -> None:
    """Until `url` answers below 500; a process that exits meanwhile fails with its output."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"{proc.args[:4]} exited with {proc.returncode}: {out[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@dataclass
class Dashboard:
    """`callqa dashboard --auth oidc` on `db` with a real oidc-provider-mock; a context manager."""

    db: Path
    users: Sequence[User]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    log_to: Path | None = None
    base: str = ""
    idp_base: str = ""
    cookie_secret: str = ""
    _procs: list[subprocess.Popen] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return self.base + path

    def start(self) -> "Dashboard":
        from qa.access.directory import Directory

        directory = Directory(self.db)
        for u in self.users:
            if u.role is None:
                continue
            directory.add(u.email, u.role, agent_id=u.agent_id, display_name=u.name,
                          teams=[u.team] if u.team else None, queues=list(u.queues) or None,
                          grants=list(u.grants) or None, replace=True)
        idp_port, app_port = free_port(), free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_to or self.workdir / "dashboard.log", "w")  # noqa: SIM115 (closed with the process)
        claims = [a for u in self.users for a in ("--user-claims", json.dumps(u.claims()))]
        idp = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(idp_port), *claims],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._procs.append(idp)
        self.cookie_secret = secrets.token_hex(32)
        secrets_file = self.workdir / "secrets.toml"
        secrets_file.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "{self.cookie_secret}"
client_id = "callqa"
client_secret = "callqa-secret"
server_metadata_url = "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
""")
        env = {**os.environ, "PYTHONPATH": str(REPO), "CALLQA_RUBRIC_DIR": str(REPO / "scoring_rubrics"),
               "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", **self.env}  # no "File change. Rerun" mid-measurement
        app = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "dashboard", "--db", str(self.db), "--auth",
                                "oidc", "--port", str(app_port), "--secrets", str(secrets_file)],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        self._procs.append(app)
        self.idp_base, self.base = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{app_port}"
        try:
            wait_http(self.idp_base + "/.well-known/openid-configuration", idp)
            wait_http(self.base + "/_stcore/health", app)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in reversed(self._procs):
            _stop(proc)
        self._procs.clear()

    def __enter__(self) -> "Dashboard":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- what to wait for ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Js:
    """A JavaScript expression that is truthy once the page shows what was asked for."""

    expr: str


def css(selector: str) -> Js:
    """An element matching `selector` is in the page (and not stale)."""
    return Js(f"[...document.querySelectorAll({json.dumps(selector)})].some(e => !e.closest('[data-stale=true]'))")


def text(words: str) -> Js:
    """The page's visible text contains `words` (outside stale elements)."""
    return Js(f"(() => {{ const m = document.querySelector('[data-testid=stMain]') || document.body;"
              f" return m.innerText.includes({json.dumps(words)}) || "
              f"(document.querySelector('[data-testid=stSidebar]')?.innerText || '').includes({json.dumps(words)}); }})()")


def js(expr: str) -> Js:
    return Js(expr)


def button(label: str, exact: bool = False) -> Callable[[Any], None]:
    """An action: click the first visible button whose text contains (or is) `label`."""
    cmp = "t.split('\\n').map(x => x.trim()).includes(l)" if exact else "t.includes(l)"
    script = (f"const l = {json.dumps(label)}; const b = [...document.querySelectorAll('button, a')].find(b => "
              f"{{ const t = b.innerText.trim(); return ({cmp}) && b.offsetParent !== null && "
              "!b.closest('[data-stale=true]'); }); if (!b) return false; b.scrollIntoView({block: 'center'}); "
              "b.click(); return true;")

    def act(driver: Any) -> None:
        deadline = time.monotonic() + 30
        while not driver.execute_script(script):
            if time.monotonic() > deadline:
                raise AssertionError(f"no button {label!r} in the page")
            time.sleep(0.05)
    act.__name__ = f"button({label!r})"
    return act


def click_css(selector: str) -> Callable[[Any], None]:
    """An action: click the first element matching `selector`."""
    def act(driver: Any) -> None:
        from selenium.webdriver.common.by import By

        el = driver.find_element(By.CSS_SELECTOR, selector)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
        el.click()
    return act


_OBSERVER = """
if (!window.__callqa) {
  window.__callqa = {runs: 0, lastChange: performance.now()};
  const seen = () => {
    const app = document.querySelector('.stApp');
    const state = app && app.getAttribute('data-test-script-state');
    if (state === 'running' && window.__callqa.state !== 'running') window.__callqa.runs += 1;
    window.__callqa.state = state;
  };
  new MutationObserver(seen).observe(document, {subtree: true, attributes: true, childList: true,
                                                attributeFilter: ['data-test-script-state']});
  seen();
}
return window.__callqa.runs;
"""

_SETTLED = """
const app = document.querySelector('.stApp');
const state = app ? app.getAttribute('data-test-script-state') : null;
if (!app || state === 'running' || state === 'initial' || state === 'rerunRequested') return false;
if (document.querySelector('[data-stale=true]')) return false;
const st = document.querySelector('[data-testid=stStatusWidget]');
if (st && /running|connecting/i.test(st.innerText)) return false;
return true;
"""

# Polls in the page (every 10 ms) so the measured instant does not include WebDriver round trips.
_WAIT = """
const [until, needRun, runsBefore, settleMs, timeoutMs, t0] = [arguments[0], arguments[1], arguments[2],
  arguments[3], arguments[4], arguments[5]];
const done = arguments[arguments.length - 1];
const settled = () => { %s };
const check = new Function('return (' + until + ');');
let since = null;
const tick = () => {
  const now = performance.now();
  let ok = false;
  try { ok = Boolean(check()) && settled() && (!needRun || (window.__callqa && window.__callqa.runs > runsBefore)); }
  catch (e) { ok = false; }
  if (ok) { if (since === null) since = now; if (now - since >= settleMs) return done({ms: since - t0}); }
  else since = null;
  if (now - t0 > timeoutMs) return done({timeout: true, ms: now - t0});
  setTimeout(tick, 10);
};
tick();
""" % _SETTLED.replace("\n", " ")


class Browser:
    """Headless Chromium (Selenium) at a given window size; a context manager."""

    def __init__(self, width: int = 1366, height: int = 768, performance_log: bool = False) -> None:
        browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
        if not (browser and driver):
            raise BrowserUnavailable("Debian chromium + chromium-driver are not installed (make test-slow installs them)")
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError as exc:  # pragma: no cover - a dev dependency
            raise BrowserUnavailable(f"selenium is not installed: {exc}") from exc
        self.profile = tempfile.mkdtemp(prefix="callqa-chromium-")
        options = webdriver.ChromeOptions()
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.binary_location = browser
        if performance_log:
            options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.driver.set_script_timeout(180)
        self.width, self.height = width, height

    # --- navigation ---------------------------------------------------------------------------------
    def sign_in(self, dash: Dashboard, sub: str, timeout_s: float = 60) -> None:
        """Sign in as `sub` through the provider's own form, as a person does; ends on the dashboard."""
        from selenium.webdriver.common.by import By

        d = self.driver
        d.delete_all_cookies()
        d.get(dash.url("/"))
        self._poll("const b = [...document.querySelectorAll('button')].find(b => b.innerText.includes('Sign in'));"
                   " if (b) { b.click(); return true; } return false;", timeout_s, "no sign-in button")
        self._poll("return document.querySelector('input[name=sub]') !== null", timeout_s, "no identity-provider form")
        d.find_element(By.NAME, "sub").send_keys(sub)
        d.find_element(By.CSS_SELECTOR, "button[type='submit'], button[value='allow']").click()
        self._poll(f"return location.href.startsWith({json.dumps(dash.base)}) && "
                   "document.querySelector('.stApp') !== null", timeout_s, "not back from the identity provider")
        self.wait_settled(timeout_s)

    def open(self, url: str, until: Js | str | None = None, timeout_s: float = 60) -> float:
        """Load `url` (a full page load with a new session) and wait until it is rendered; seconds."""
        t0 = time.perf_counter()
        self.driver.get(url)
        self._poll("return document.querySelector('.stApp') !== null", timeout_s, f"{url}: no Streamlit app")
        self.wait_settled(timeout_s, until)
        return time.perf_counter() - t0

    def wait_settled(self, timeout_s: float = 60, until: Js | str | None = None, settle_s: float = 0.3) -> None:
        self.click_to_rendered(lambda d: None, until or "true", need_run=False, settle_s=settle_s, timeout_s=timeout_s)

    def click_to_rendered(self, action: Callable[[Any], None], until: Js | str, need_run: bool = True,
                          settle_s: float = 0.3, timeout_s: float = 60) -> float:
        """Seconds from just before `action(driver)` until `until` is rendered and Streamlit has finished.

        `need_run=False` for actions the browser handles alone (no script run expected)."""
        expr = until.expr if isinstance(until, Js) else str(until)
        runs = self.driver.execute_script(_OBSERVER)
        t0 = self.driver.execute_script("return performance.now();")
        action(self.driver)
        out = self.driver.execute_async_script(_WAIT, expr, need_run, runs, settle_s * 1000, timeout_s * 1000, t0)
        if out.get("timeout"):
            raise TimeoutError(f"not rendered within {timeout_s:.0f} s: {expr[:200]}")
        return float(out["ms"]) / 1000

    # --- Streamlit widgets (actions for click_to_rendered, or direct) ------------------------------
    def fill(self, label: str, value: str, enter: bool = True) -> Callable[[Any], None]:
        """An action: type `value` into the text input / area labelled `label` (Enter commits an input)."""
        def act(driver: Any) -> None:
            from selenium.webdriver.common.by import By
            from selenium.webdriver.common.keys import Keys

            el = driver.execute_script(
                "const l = arguments[0]; const a = document.querySelector(`input[aria-label=\"${l}\"], "
                "textarea[aria-label=\"${l}\"]`); if (a) return a; const w = [...document.querySelectorAll("
                "'[data-testid=stWidgetLabel]')].find(x => x.innerText.trim() === l); const box = w && w.closest("
                "'[data-testid=stTextInput], [data-testid=stTextArea]'); return box && box.querySelector('input, textarea');",
                label)
            if el is None:
                raise AssertionError(f"no text box {label!r}")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
            el.click()
            el.send_keys(Keys.CONTROL, "a")
            el.send_keys(Keys.DELETE)
            el.send_keys(value)
            if enter:  # commits the widget (outside a form: a script run; inside one, a text area submits it)
                el.send_keys(Keys.ENTER) if el.tag_name == "input" else el.send_keys(Keys.CONTROL, Keys.ENTER)
        return act

    def choose(self, label: str, option: str) -> Callable[[Any], None]:
        """An action: pick the option whose visible text contains `option` in the selectbox / multiselect `label`."""
        def act(driver: Any) -> None:
            from selenium.webdriver.common.by import By

            box = driver.execute_script(
                "const l = [...document.querySelectorAll('[data-testid=stWidgetLabel]')].find(x => x.innerText.trim()"
                " === arguments[0]); return l && l.closest('[data-testid=stSelectbox], [data-testid=stMultiSelect]');",
                label)
            if box is None:
                raise AssertionError(f"no select box {label!r}")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
            box.find_element(By.CSS_SELECTOR, "input").click()
            deadline, reopen = time.monotonic() + 15, time.monotonic() + 2
            while time.monotonic() < deadline:
                if time.monotonic() > reopen and not driver.execute_script(
                        "return document.querySelectorAll('[role=option]').length"):
                    box.find_element(By.CSS_SELECTOR, "input").click()  # the list closed (a rerun): open again
                    reopen = time.monotonic() + 2
                found = driver.execute_script(
                    "const o = [...document.querySelectorAll('[role=option]')].find(o => o.innerText.trim()"
                    ".includes(arguments[0])); if (o) { o.click(); return true; } return false;", option)
                if found:
                    return
                time.sleep(0.05)
            raise AssertionError(f"no option {option!r} in {label!r}")
        return act

    def radio(self, option: str) -> Callable[[Any], None]:
        """An action: click the radio option whose label is `option`."""
        def act(driver: Any) -> None:
            ok = driver.execute_script(
                "const l = [...document.querySelectorAll('[data-testid=stRadio] label')].find(l => l.innerText.trim()"
                " === arguments[0]); if (l) { l.scrollIntoView({block: 'center'}); l.click(); return true; }"
                " return false;", option)
            if not ok:
                raise AssertionError(f"no radio option {option!r}")
        return act

    def table_row(self, row: int, table: int = 0) -> Callable[[Any], None]:
        """An action: select row `row` (0-based) of the `table`-th dataframe (its row-selection box)."""
        def act(driver: Any) -> None:
            from selenium.webdriver.common.actions.action_builder import ActionBuilder
            from selenium.webdriver.common.by import By

            grid = driver.find_elements(By.CSS_SELECTOR, "[data-testid=stDataFrame]")[table]
            rect = driver.execute_script(
                "const g = arguments[0]; g.scrollIntoView({block: 'start'});"  # then clear of the sticky header
                " let p = g.parentElement; while (p && !(p.scrollHeight > p.clientHeight + 1 &&"
                " /(auto|scroll)/.test(getComputedStyle(p).overflowY))) p = p.parentElement;"
                " (p || document.scrollingElement).scrollTop -= 262 - 35 * arguments[1];"
                " return g.getBoundingClientRect().toJSON();", grid, row)
            actions = ActionBuilder(driver)
            actions.pointer_action.move_to_location(int(rect["left"] + 14), int(rect["top"] + 38 + 35 * row + 17))
            actions.pointer_action.click()
            actions.perform()
        return act

    # --- looking --------------------------------------------------------------------------------------
    def screenshot(self, path: Path | str, full_page: bool = False) -> Path:
        """A PNG of the window (or of the whole main area's scroll height, `full_page`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        d = self.driver
        if full_page:
            h = d.execute_script("const m = document.querySelector('[data-testid=stMain]');"
                                 " return Math.max(document.body.scrollHeight, m ? m.scrollHeight : 0);")
            d.set_window_size(self.width, min(int(h) + 120, 6000))
            time.sleep(0.3)
        d.save_screenshot(str(path))
        if full_page:
            d.set_window_size(self.width, self.height)
        return path

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def page_text(self) -> str:
        return self.driver.execute_script("return document.body.innerText")

    def _poll(self, script: str, timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while not (value := self.driver.execute_script(script)):
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            time.sleep(0.1)
        return value

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.quit()
