"""A real sign-in and real HTTP requests: oidc-provider-mock 0.3.x as the identity provider, `callqa
dashboard --auth oidc` as the server, and plain HTTP clients (what `curl` does) against it.

Measured: no cookie, a forged cookie and the cookie of a user without access get no audio and no
Streamlit file; the signed-in agent gets their own call's audio, redacted, and nobody else's.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import socket
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
from qa.access.audit import AuditLog
from qa.access.directory import Directory
from qa.pipeline import file_sha256

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip("oidc_provider_mock")
pytest.importorskip("authlib")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[:4]} exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


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
    directory = Directory(db)
    directory.add("a1@example.com", "agent", agent_id="A001")  # call-0000001 is A001's
    directory.add("a2@example.com", "agent", agent_id="A002")
    idp_port, app_port = _port(), _port()
    idp = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(idp_port),
                            "--user-claims", json.dumps({"sub": "u1", "email": "a1@example.com"}),
                            "--user-claims", json.dumps({"sub": "u2", "email": "a2@example.com"}),
                            "--user-claims", json.dumps({"sub": "u3", "email": "stranger@example.com"})],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    secret = secrets.token_hex(32)
    secrets_file = root / "secrets.toml"
    secrets_file.write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "{secret}"
client_id = "callqa"
client_secret = "callqa-secret"
server_metadata_url = "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
""")
    env = {**os.environ, "CALLQA_RUBRIC_DIR": str(REPO / "scoring_rubrics")}
    app = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "dashboard", "--db", str(db), "--auth", "oidc",
                            "--port", str(app_port), "--secrets", str(secrets_file)], cwd=REPO, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait(f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration", idp)
        _wait(f"http://127.0.0.1:{app_port}/_stcore/health", app)
        yield {"db": db, "base": f"http://127.0.0.1:{app_port}", "secret": secret, "rec": rec}
    finally:
        for proc in (app, idp):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


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
