"""A real sign-in and real HTTP requests: oidc-provider-mock 0.3.x as the identity provider, `callqa
dashboard --auth oidc` as the server, and plain HTTP clients (what `curl` does) against it.

Measured: no cookie, a forged cookie and the cookie of a user without access get no audio and no
Streamlit file; the signed-in agent gets their own call's audio, redacted, and nobody else's.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import httpx
import numpy as np
import pytest
import soundfile as sf

from benchmarks import bench_store
from benchmarks.browser import Browser, BrowserUnavailable, Dashboard, User, free_port, wait_http
from qa.access.audit import AuditLog
from qa.access.directory import Directory
from qa.pipeline import file_sha256

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip("oidc_provider_mock")
pytest.importorskip("authlib")


_port = free_port  # the browser harness's helpers (benchmarks/browser.py)
_wait = wait_http


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("server")
    db = root / "calls.duckdb"
    bench_store.build_store(db, 12)
    sr = 8000
    t = np.arange(3 * sr) / sr
    rec = root / "call-0000001.wav"
    sf.write(rec, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), sr, subtype="PCM_16")
    con = duckdb.connect(str(db))
    con.execute("UPDATE calls SET source_path = ?, content_sha256 = ? WHERE call_id = 'call-0000001'",
                [str(rec), file_sha256(rec)])
    con.execute("INSERT INTO pii_redactions VALUES ('call-0000001', 0, 'card', 1.0, 2.0, '[CARD]', true)")
    con.close()
    users = [User("u1", "a1@example.com", "agent", agent_id="A001"),  # call-0000001 is A001's
             User("u2", "a2@example.com", "agent", agent_id="A002"),
             User("u3", "stranger@example.com", None)]  # signs in at the IdP, unknown to callqa
    with Dashboard(db, users, root / "dash") as dash:  # the browser harness: real IdP + callqa dashboard --auth oidc
        yield {"db": db, "base": dash.base, "secret": dash.cookie_secret, "rec": rec}


def _login(server: dict, sub: str) -> httpx.Client:
    """The browser's part of the OIDC flow: /auth/login -> the IdP's form -> /oauth2callback -> cookie."""
    import streamlit.auth_util as auth_util

    original = auth_util.get_signing_secret
    auth_util.get_signing_secret = lambda: server["secret"]
    try:
        token = auth_util.encode_provider_token("default")
    finally:
        auth_util.get_signing_secret = original
    client = httpx.Client(base_url=server["base"], timeout=30)
    r = client.get("/auth/login", params={"provider": token})
    assert r.status_code in (302, 303, 307), r.text[:500]
    authorize = r.headers["location"]
    r = httpx.post(authorize, data={"sub": sub}, timeout=30)  # the IdP's "authorize" button
    assert r.status_code in (302, 303), r.text[:500]
    callback = r.headers["location"]
    assert urlparse(callback).path == "/oauth2callback" and "code" in parse_qs(urlparse(callback).query)
    r = client.get(callback)
    assert r.status_code in (302, 303, 307), r.text[:500]
    assert "_streamlit_user" in client.cookies
    return client


def test_real_oidc_sign_in_and_audio_only_for_the_right_user(server: dict) -> None:
    base, audio = server["base"], "/callqa/audio/call-0000001"
    # no cookie: no audio, no Streamlit files
    assert httpx.get(base + audio).status_code == 401
    assert httpx.get(base + "/media/0123456789abcdef.wav").status_code == 401
    # a forged cookie
    forged = httpx.get(base + audio, cookies={"_streamlit_user": '{"is_logged_in": true, "email": "a1@example.com"}'})
    assert forged.status_code == 401
    # a real sign-in of a user callqa does not know
    stranger = _login(server, "u3")
    assert stranger.get(audio).status_code == 401
    # a real sign-in of another agent: signed in, but not their call
    a2 = _login(server, "u2")
    assert a2.get(audio).status_code == 403 and not a2.get(audio).content.startswith(b"RIFF")
    # the agent whose call it is: the redacted recording, not cached, with ranges
    a1 = _login(server, "u1")
    r = a1.get(audio)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert "no-store" in r.headers["cache-control"]
    heard, sr = sf.read(io.BytesIO(r.content), dtype="float32")
    original, _ = sf.read(server["rec"], dtype="float32")
    assert not np.allclose(heard, original, atol=1e-3)  # 1-2 s toned out
    spectrum = np.abs(np.fft.rfft(heard[int(1.2 * sr):int(1.8 * sr)]))
    assert np.argmax(spectrum) * sr / (2 * (len(spectrum) - 1)) == pytest.approx(1000, abs=5)
    part = a1.get(audio, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == r.content[100:200]
    assert a1.get(audio + "?original=1").status_code == 403  # no unmask_audio grant
    # every request above is in the audit trail
    log = AuditLog(server["db"])
    assert log.rows(user="a1@example.com", action="play_audio")
    assert log.rows(user="a2@example.com", action="denied", call_id="call-0000001")
    assert log.rows(user="a1@example.com", action="denied", call_id="call-0000001")  # the original
    assert log.verify() == []
    # signed out: the cookie is gone, and with it the audio
    a1.cookies.clear()
    assert a1.get(audio).status_code == 401


def test_dashboard_refuses_no_login_off_loopback(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "dashboard", "--db", str(tmp_path / "x.duckdb"),
                          "--auth", "none", "--host", "0.0.0.0"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "127.0.0.1" in out.stderr
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "dashboard", "--db", str(tmp_path / "x.duckdb"),
                          "--auth", "proxy", "--host", "192.168.1.5"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2


def _chromium():
    try:
        return Browser(1400, 900, performance_log=True)
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.browser
def test_browser_signs_in_plays_redacted_audio_and_fetches_nothing_off_the_machine(server: dict) -> None:
    """A real browser: sign in at the IdP, open the agent's call; the player's source is callqa's route,
    and every request the pages make stays on 127.0.0.1 (the IdP's own page aside)."""
    from selenium.webdriver.common.by import By

    browser = _chromium()
    d = browser.driver
    try:
        def until(script: str, what: str):
            deadline = time.monotonic() + 60
            while not (value := d.execute_script(script)):
                assert time.monotonic() < deadline, what
                time.sleep(0.5)
            return value

        d.get(server["base"] + "/")
        until("const b = [...document.querySelectorAll('button')].find(b => b.innerText.includes('Sign in'));"
              " if (b) { b.click(); return true; } return false;", "no sign-in button")
        until("return document.querySelector('input[name=sub]') !== null", "no IdP form")
        idp_origin = "{0.scheme}://{0.netloc}".format(urlparse(d.current_url))
        d.find_element(By.NAME, "sub").send_keys("u1")
        d.find_element(By.CSS_SELECTOR, "button[type='submit'], button[value='allow']").click()
        until("return location.href.startsWith(arguments[0])".replace("arguments[0]", repr(server["base"])),
              "not back from the IdP")
        d.get(server["base"] + "/call?call_id=call-0000001")
        src = until("const a = document.querySelector('audio'); return a && a.src", "no player")
        assert "/callqa/audio/call-0000001" in src and "/media/" not in src
        time.sleep(2)
        urls = set()
        for entry in d.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent" and not str(params.get("documentURL", "")).startswith(
                    idp_origin):  # the IdP's own login page is not callqa's
                urls.add(params["request"]["url"])
        page_urls = {u for u in urls if u.startswith(("http", "ws")) and not u.startswith(idp_origin)}
        offsite = {u for u in page_urls if not u.startswith((server["base"], server["base"].replace("http", "ws")))}
        assert not offsite, offsite  # e.g. fonts.gstatic.com for a :material/...: page icon
        assert any("/callqa/audio/call-0000001" in u for u in page_urls)
    finally:
        browser.quit()


def test_proxy_mode_user_from_the_header(server: dict, tmp_path: Path) -> None:
    """`auth = proxy`: the user is the proxy's header; no header, an unknown user, another agent get no audio."""
    port = _port()
    app = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "dashboard", "--db", str(server["db"]), "--auth",
                            "proxy", "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base + "/_stcore/health", app)
        audio = base + "/callqa/audio/call-0000001"
        assert httpx.get(audio).status_code == 401
        assert httpx.get(audio, headers={"X-Forwarded-User": "mallory"}).status_code == 401
        assert httpx.get(audio, headers={"X-Forwarded-User": "a2@example.com"}).status_code == 403
        own = httpx.get(audio, headers={"X-Forwarded-User": "a1@example.com"})
        assert own.status_code == 200 and own.content.startswith(b"RIFF")
        assert httpx.get(base + "/media/x.wav").status_code == 401
    finally:
        app.terminate()
        app.wait(timeout=15)


def test_groups_claim_seeds_a_role(tmp_path: Path) -> None:
    from qa.access.identity import resolve_viewer

    db = tmp_path / "g.duckdb"
    assert resolve_viewer(db, "oidc", ["new@example.com"], ["staff"]) is None  # no role named: no access
    viewer = resolve_viewer(db, "oidc", ["new@example.com", "sub-1"], ["staff", "reviewer"])
    assert viewer is not None and viewer.role == "reviewer" and viewer.sees_everything
    assert Directory(db).get("new@example.com").role == "reviewer"
    assert AuditLog(db).rows(action="user_seeded")[0].target == "new@example.com"
    assert resolve_viewer(db, "oidc", ["agent@example.com"], ["agent"]) is None  # an agent needs an agent_id
    agent = resolve_viewer(db, "oidc", ["agent@example.com"], ["agent"], agent_id="A001")
    assert agent is not None and agent.scope.agent_ids == ("A001",)
