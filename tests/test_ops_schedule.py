"""`callqa schedule` against a real `prefect server start`, then one run of the deployment by a real worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, shared

pytestmark = pytest.mark.slow
PREFECT = str(Path(sys.executable).parent / "prefect")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prefect_server(tmp_path):
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false", PYTHONPATH=str(REPO),
               CALLQA_ASR_BEAM_SIZE="1")
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(env["PREFECT_API_URL"] + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "prefect server did not start"
        time.sleep(1)
    yield env
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def _deployment(env: dict, name: str):
    code = ("import json, sys\nfrom prefect import get_client\n"
            "with get_client(sync_client=True) as c:\n"
            "    d = c.read_deployment_by_name(sys.argv[1])\n"
            "    runs = c.read_flow_runs()\n"
            "    print(json.dumps({'id': str(d.id), 'pool': d.work_pool_name, 'parameters': d.parameters,\n"
            "        'schedules': [{'cron': s.schedule.cron, 'tz': s.schedule.timezone, 'active': s.active}\n"
            "                      for s in d.schedules],\n"
            "        'runs': [{'state': r.state_type.value, 'deployment': str(r.deployment_id)} for r in runs]}))\n")
    out = subprocess.run([sys.executable, "-c", code, name], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_schedule_creates_cron_deployment_and_a_worker_runs_it(prefect_server, tmp_path):
    from qa.store import Store

    env = prefect_server
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(shared("faster_whisper", "hotwords.mp3"), inbox / "hotwords.mp3")
    (inbox / "hotwords.json").write_text(json.dumps({"language": "en", "agent_id": "A1"}))
    db = tmp_path / "nightly.duckdb"
    cmd = [sys.executable, "-m", "pipelines.cli", "schedule", "--inbox", str(inbox), "--cron", "0 2 * * *",
           "--timezone", "Europe/Istanbul", "--db", str(db), "--pool", "callqa-test", "--workers", "1"]
    made = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    assert "callqa-nightly/nightly" in made.stdout and "Europe/Istanbul" in made.stdout

    dep = _deployment(env, "callqa-nightly/nightly")
    assert dep["schedules"] == [{"cron": "0 2 * * *", "tz": "Europe/Istanbul", "active": True}]
    assert dep["pool"] == "callqa-test"
    assert dep["parameters"] == {"inbox": str(inbox.resolve()), "db": str(db.resolve()), "workers": 1}

    # bad input is refused with a readable message
    bad = subprocess.run(cmd[:-8] + ["--timezone", "Mars/Olympus"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "unknown time zone" in bad.stderr

    # run it now, as `prefect deployment run` would, and let a real process worker execute it
    run = subprocess.run([PREFECT, "deployment", "run", "callqa-nightly/nightly"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    worker = subprocess.run([PREFECT, "worker", "start", "--pool", "callqa-test", "--run-once"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=1800)
    assert worker.returncode == 0, worker.stderr[-3000:]
    states = [r["state"] for r in _deployment(env, "callqa-nightly/nightly")["runs"] if r["deployment"] == dep["id"]]
    assert "COMPLETED" in states, (states, worker.stdout[-3000:])
    store = Store(db)
    assert store.query("SELECT call_id, status, agent_id FROM calls") == [("hotwords", "ok", "A1")]
    assert store.query("SELECT status, calls_ok FROM runs") == [("completed", 1)]
