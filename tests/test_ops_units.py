"""Fast operations tests: a real worker process that times out, quarantine, run history, progress, runners."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import shared


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child that was reaped is gone; a zombie would still answer, so check its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_timed_out_call_is_killed_recorded_and_the_worker_replaced(tmp_settings):
    from pipelines.worker import CallWorker
    from qa.ingest import handle_file
    from qa.store import Store

    clip = shared("faster_whisper", "stereo_diarization.wav")
    settings = tmp_settings.model_copy(update={"call_timeout_min_s": 0.3, "call_timeout_factor": 0.01})
    store = Store(settings.db)
    store.init()
    worker = CallWorker(first_call_grace_s=0.0)  # no allowance for loading models: time out at once
    worker.start()
    first_pid = worker.pid

    def in_worker(p, s, rubric, sha, meta):
        return worker.run(p, s, rubric, sha, meta, 5.0)

    out = handle_file(clip, settings, store, processor=in_worker)
    assert (out.status, out.stage) == ("failed", "timeout")
    assert "longer than the 0.3 s allowed for 5 s of audio" in out.reason
    assert worker.proc is None and not _alive(first_pid)  # the hung child is gone
    assert store.query("SELECT stage, call_id FROM failures") == [("timeout", "stereo_diarization")]
    assert store.query("SELECT status, error_stage FROM calls") == [("failed", "timeout")]

    # the next call gets a fresh worker (the slow tests show one processing calls after a timeout)
    corrupt = Path(settings.db).parent / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    out = handle_file(corrupt, settings, store, processor=in_worker)
    assert (out.status, out.stage) == ("failed", "decode")
    assert worker.alive() and worker.pid != first_pid
    worker.kill()


def test_worker_reports_stage_errors_without_dying(tmp_path, tmp_settings):
    from pipelines.worker import CallWorker
    from qa.ingest import handle_file
    from qa.store import Store

    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    store = Store(tmp_settings.db)
    store.init()
    worker = CallWorker()
    out = handle_file(bad, tmp_settings, store,
                      processor=lambda p, s, r, sha, meta: worker.run(p, s, r, sha, meta, None))
    assert (out.status, out.stage) == ("failed", "decode") and "cannot decode audio" in out.reason
    assert worker.alive()  # a bad file is not a reason to restart the models
    worker.kill()


def test_orphaned_worker_exits_when_its_parent_is_killed(tmp_path):
    code = ("import sys, time; sys.path.insert(0, %r)\n"
            "from pipelines.worker import CallWorker\n"
            "w = CallWorker(); w.start(); print(w.pid, flush=True); time.sleep(60)\n") % str(Path.cwd())
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 60  # it checks every second; a busy machine may delay it
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(child)


def test_call_timeout_scales_with_duration(settings):
    from pipelines.worker import call_timeout

    s = settings.model_copy(update={"call_timeout_min_s": 120, "call_timeout_factor": 3})
    assert [call_timeout(s, d) for d in (None, 10, 40, 600)] == [120, 120, 120, 1800]


def test_duration_probe_and_bound(tmp_path):
    from qa.ingest import duration_bound, probe_duration

    assert probe_duration(shared("faster_whisper", "jfk.flac")) == pytest.approx(11.0, abs=0.1)
    junk = tmp_path / "x.wav"
    junk.write_bytes(b"\0" * 50_000)
    assert probe_duration(junk) is None and duration_bound(junk) == 50.0


def test_quarantine_moves_file_sidecar_and_reason(tmp_path):
    from qa.ingest import quarantine

    inbox, q = tmp_path / "inbox", tmp_path / "q"
    inbox.mkdir()
    for n in range(2):  # a second file of the same name does not overwrite the first
        (inbox / "bad.wav").write_bytes(b"junk%d" % n)
        (inbox / "bad.json").write_text(json.dumps({"agent_id": f"A{n}"}))
        moved = quarantine(inbox / "bad.wav", q, "decode", "cannot decode audio")
        assert not (inbox / "bad.wav").exists() and not (inbox / "bad.json").exists()
    assert sorted(p.name for p in q.iterdir()) == [
        "bad.1.json", "bad.1.wav", "bad.1.wav.reason.txt", "bad.json", "bad.wav", "bad.wav.reason.txt"]
    assert moved.name == "bad.1.wav" and json.loads((q / "bad.1.json").read_text()) == {"agent_id": "A1"}
    note = (q / "bad.wav.reason.txt").read_text()
    assert "stage: decode" in note and "reason: cannot decode audio" in note


def test_process_task_quarantines_bad_files_only(tmp_path, tmp_settings):
    from pipelines.flows import process_call_task
    from pipelines.worker import shutdown_workers

    inbox, q = tmp_path / "inbox", tmp_path / "quarantine"
    inbox.mkdir()
    (inbox / "empty.mp3").write_bytes(b"")
    (inbox / "empty.json").write_text("{}")
    cfg = tmp_settings.model_copy(update={"quarantine_dir": q}).model_dump(mode="json")
    from qa.store import Store

    Store(tmp_settings.db).init()
    try:
        out = process_call_task.fn(str(inbox / "empty.mp3"), cfg)
    finally:
        shutdown_workers()
    assert (out["status"], out["stage"]) == ("failed", "decode")
    assert sorted(p.name for p in q.iterdir()) == ["empty.json", "empty.mp3", "empty.mp3.reason.txt"]
    assert list(inbox.iterdir()) == []


def test_run_history_and_interrupted_runs(tmp_path):
    from qa.runs import RunCounts, mark_interrupted, recent_runs, start_run, update_run
    from qa.store import Store

    store = Store(tmp_path / "runs.duckdb")
    assert recent_runs(store) == []
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    killed = start_run(store, 3, {"paths": ["/inbox"]})
    store.init()
    with store.connect() as con:  # as if a process that no longer exists had started it
        con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", [gone.pid, killed])
    run = start_run(store, 4, {"paths": ["/inbox"], "workers": 2})
    counts = RunCounts(total=4)
    for status, d in (("ok", 60.0), ("skipped", 30.0), ("failed", 0.0), ("ok", 120.0)):
        counts.add(status, d)
    update_run(store, run, counts, 90.0, "completed")
    latest, older = recent_runs(store)
    assert (older.run_id, older.status, older.finished_at is not None) == (killed, "interrupted", True)
    assert (latest.run_id, latest.status, latest.calls_total) == (run, "completed", 4)
    assert (latest.calls_ok, latest.calls_failed, latest.calls_skipped) == (2, 1, 1)
    assert latest.audio_s == 180.0 and latest.audio_hours_per_hour == 2.0 and latest.args["workers"] == 2
    assert mark_interrupted(store) == 0  # this live run is never marked


def test_progress_eta_uses_remaining_audio():
    from pipelines.flows import Progress
    from qa.ingest import FileOutcome

    p = Progress({"a": 60.0, "b": 60.0, "c": 120.0, "d": 30.0})
    p.started = time.perf_counter() - 30  # 30 s of wall time for the first 60 s of audio
    line = p.line(FileOutcome("a", "ok", "call-a", duration_s=60.0, score_pct=80.0))
    assert line.startswith("[1/4] call-a: ok 80.0% | audio 1.0/4.5 min")
    assert p.eta_s(30.0) == pytest.approx(105.0)  # 210 s of audio left at 0.5 s per s
    p.line(FileOutcome("d", "skipped", "call-d"))
    assert p.eta_s(30.0) == pytest.approx(90.0)
    unknown = Progress({"a": None, "b": None})
    unknown.line(FileOutcome("a", "failed", "call-a", reason="bad", stage="decode"))
    assert unknown.eta_s(10.0) == pytest.approx(10.0)  # falls back to calls


@pytest.mark.parametrize("workers, explicit_threads, cores, memory_gib, expected", [
    (None, None, 2, 24, (2, 1)),   # default: one 1-thread worker per core
    (None, None, 32, 8, (5, 1)),   # ... as many as the memory holds (1.5 GiB each)
    (None, None, 2, 1, (1, 1)),    # ... and always at least one
    (None, 2, 2, 24, (1, 2)),      # an explicit thread count alone: cores // threads
    (None, 2, 8, 24, (4, 2)),
    (2, None, 2, 24, (2, 1)),      # two workers share two cores
    (4, None, 2, 24, (4, 1)),
    (2, 2, 2, 24, (2, 2)),         # an explicit thread count is kept
])
def test_plan_workers(monkeypatch, workers, explicit_threads, cores, memory_gib, expected):
    from pipelines import runners
    from qa.config import Settings

    monkeypatch.setattr(runners, "available_cores", lambda: cores)
    monkeypatch.setattr(runners, "available_memory_gib", lambda: memory_gib)
    s = Settings(asr_threads=explicit_threads) if explicit_threads else Settings()
    assert runners.plan_workers(s, workers) == expected


@pytest.mark.parametrize("kind, cls", [
    ("threads", "ThreadPoolTaskRunner"), ("processes", "ProcessPoolTaskRunner"), ("dask", "DaskTaskRunner")])
def test_make_task_runner(kind, cls):
    from pipelines.runners import make_task_runner

    assert type(make_task_runner(kind, 2)).__name__ == cls
    with pytest.raises(ValueError, match="unknown runner"):
        make_task_runner("celery", 2)


def test_processes_runner_runs_the_batch_and_records_failures(prefect_harness, tmp_path, tmp_settings):
    """The process-pool runner end to end on files that fail fast (no model needed)."""
    from pipelines.flows import run_batch
    from qa.store import Store

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.wav").write_bytes(b"")
    (inbox / "junk.mp3").write_bytes(b"ID3 not really an mp3" * 10)
    from conftest import settled

    settled(inbox)
    outcomes = run_batch([str(inbox)], tmp_settings, runner="processes", workers=2, progress=False)
    assert sorted((o["call_id"], o["status"], o["stage"]) for o in outcomes) == [
        ("empty", "failed", "decode"), ("junk", "failed", "decode")], [(o["call_id"], o["reason"]) for o in outcomes]
    store = Store(tmp_settings.db)
    assert store.query("SELECT call_id FROM failures ORDER BY 1") == [("empty",), ("junk",)]
    assert store.query("SELECT status, calls_total, calls_failed FROM runs") == [("completed", 2, 2)]
