"""The Prefect batch flow and the CLI on a real folder: good calls, bad files, re-runs."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, settled, shared


@pytest.fixture
def inbox(tmp_path):
    box = tmp_path / "inbox"
    (box / "day1").mkdir(parents=True)
    shutil.copy(shared("faster_whisper", "jfk.flac"), box / "jfk.flac")
    (box / "jfk.json").write_text(json.dumps({"call_id": "jfk-1", "agent_id": "A7", "language": "en"}))
    shutil.copy(shared("faster_whisper", "stereo_diarization.wav"), box / "day1" / "stereo.wav")
    (box / "day1" / "stereo.json").write_text(json.dumps({"language": "en", "agent_channel": 1}))
    (box / "day1" / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    (box / "day1" / "empty.mp3").write_bytes(b"")
    shutil.copy(shared("faster_whisper", "jfk.flac"), box / "day1" / "badmeta.flac")
    (box / "day1" / "badmeta.json").write_text("{ this is not json")
    (box / "notes.txt").write_text("not audio, ignored")
    settled(box)
    return box


def run_flow(paths, db, **kw):
    from pipelines.flows import batch_flow
    from qa.config import load_settings

    settings = load_settings(db=db)
    paths = paths if isinstance(paths, list) else [paths]
    return batch_flow([str(p) for p in paths], settings.model_dump(mode="json"), progress=False, **kw)


def by_status(outcomes):
    out = {}
    for o in outcomes:
        out.setdefault(o["status"], []).append(o["call_id"])
    return {k: sorted(v) for k, v in out.items()}


def test_batch_isolates_bad_files_and_reruns_idempotently(prefect_harness, inbox, tmp_path):
    from qa.store import Store

    db = tmp_path / "calls.duckdb"
    first = run_flow(inbox, db)
    assert by_status(first) == {"ok": ["jfk-1", "stereo"], "failed": ["badmeta", "corrupt", "empty"]}
    reasons = {o["call_id"]: (o["stage"], o["reason"]) for o in first if o["status"] == "failed"}
    assert reasons["empty"] == ("decode", "the file is empty (0 bytes)")
    assert reasons["corrupt"][0] == "decode" and "cannot decode audio" in reasons["corrupt"][1]
    assert reasons["badmeta"][0] == "metadata" and "badmeta.json is not valid JSON" in reasons["badmeta"][1]

    store = Store(db)
    assert store.query("SELECT status, count(*) FROM calls GROUP BY 1 ORDER BY 1") == [("failed", 3), ("ok", 2)]
    assert store.query("SELECT agent_id FROM calls WHERE call_id = 'jfk-1'") == [("A7",)]
    stored = store.query("SELECT call_id, processed_at FROM calls WHERE status = 'ok' ORDER BY 1")
    n_utts = store.query("SELECT count(*) FROM utterances")[0][0]
    assert n_utts >= 2

    second = run_flow(inbox, db)
    assert by_status(second) == {"skipped": ["jfk-1", "stereo"], "failed": ["badmeta", "corrupt", "empty"]}
    assert store.query("SELECT call_id, processed_at FROM calls WHERE status = 'ok' ORDER BY 1") == stored
    assert store.query("SELECT count(*) FROM utterances")[0][0] == n_utts
    assert store.query("SELECT count(*) FROM calls") == [(5,)]

    forced = run_flow([inbox / "jfk.flac"], db, force=True)
    assert by_status(forced) == {"ok": ["jfk-1"]}
    assert store.query("SELECT count(*) FROM calls WHERE status = 'ok'") == [(2,)]
    assert store.query("SELECT count(*) FROM utterances")[0][0] == n_utts
    assert store.query("SELECT processed_at FROM calls WHERE call_id = 'jfk-1'") != [stored[0][1:]]

    # the same audio under another name is the same call; another recording may not take its id
    box2 = tmp_path / "inbox2"
    box2.mkdir()
    shutil.copy(inbox / "jfk.flac", box2 / "renamed_copy.flac")
    import soundfile as sf

    data, sr = sf.read(inbox / "day1" / "stereo.wav")
    sf.write(box2 / "other.wav", data[: sr * 4], sr)
    (box2 / "other.json").write_text(json.dumps({"call_id": "jfk-1"}))
    settled(box2)
    outcomes = {Path(o["path"]).name: o for o in run_flow(box2, db)}
    assert outcomes["renamed_copy.flac"]["status"] == "skipped"
    assert outcomes["renamed_copy.flac"]["call_id"] == "jfk-1"
    assert outcomes["other.wav"]["status"] == "failed"
    assert "already stored for different audio" in outcomes["other.wav"]["reason"]
    assert store.query("SELECT count(*) FROM calls WHERE call_id = 'jfk-1'") == [(1,)]


def test_cli_process_prints_summary(prefect_harness, inbox, tmp_path):
    from prefect.settings import PREFECT_API_URL

    db = tmp_path / "cli.duckdb"
    # the session's Prefect server, as with a configured PREFECT_API_URL (saves the CLI's own temporary
    # server, ~7 s); the CLI with a temporary server of its own, and that none outlives it, is
    # test_hardening.py::test_a_batch_of_bad_inputs_goes_on_and_says_why_for_each
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=PREFECT_API_URL.value())
    quarantine = tmp_path / "quarantine"
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "process", str(inbox / "jfk.flac"), str(inbox / "day1" / "corrupt.wav"),
         "--db", str(db), "--quarantine", str(quarantine)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "call id" in out and "score %" in out and "failed items" in out
    assert "jfk-1" in out and "A7" in out and "0:11" in out
    assert "1 processed, 0 skipped (already stored), 1 failed." in out
    assert "FAILED corrupt.wav [decode]: cannot decode audio" in out
    assert "callqa dashboard" in out
    assert "[2/2]" in out and "ETA" in out and "audio hours per wall hour" in out
    # the bad file went to quarantine with its reason; the good one stays where it was
    assert sorted(p.name for p in quarantine.iterdir()) == ["corrupt.wav", "corrupt.wav.reason.txt"]
    assert "stage: decode" in (quarantine / "corrupt.wav.reason.txt").read_text()
    assert (inbox / "jfk.flac").exists() and not (inbox / "day1" / "corrupt.wav").exists()
    runs = subprocess.run([sys.executable, "-m", "pipelines.cli", "runs", "--db", str(db)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    from pipelines.runners import plan_workers
    from qa.config import load_settings

    workers, _ = plan_workers(load_settings())  # the default: one 1-thread worker per core
    assert runs.returncode == 0 and "completed" in runs.stdout and f"threads x{workers}" in runs.stdout
    assert runs.stdout.splitlines()[2].split()[5:8] == ["2/2", "1", "1"]  # done, ok, failed
    # nothing from the transcript reaches the console
    assert "fellow Americans" not in out and "fellow Americans" not in proc.stderr


def test_cli_reports_missing_path(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "process", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr
