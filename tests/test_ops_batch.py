"""Acceptance tests for unattended batches, with real processes, real audio and real DuckDB files.

- SIGKILL a `callqa process` mid-batch, re-run: every call stored exactly once, nothing half-written.
- A dashboard process reads pages and saves reviews while a batch process writes: no error, no lost review.
- The batch on a local Dask cluster.

The calls are short cuts of real recordings (jfk.flac, hotwords.mp3) so a batch takes
minutes, not hours, on a busy 2-core machine; beam size 1 keeps the real model cheaper.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, shared

pytestmark = pytest.mark.slow


def make_inbox(root: Path, n_cuts: int = 3, duplicate: bool = True) -> Path:
    """`n_cuts` distinct 4 s English calls (jfk cuts), hotwords.mp3, and a renamed copy of the first."""
    import soundfile as sf

    box = root / "inbox"
    (box / "late").mkdir(parents=True)
    data, sr = sf.read(shared("faster_whisper", "jfk.flac"))
    for i in range(n_cuts):
        name = box / f"jfk_part{i}.wav"
        sf.write(name, data[int(i * 2.3 * sr): int((i * 2.3 + 4) * sr)], sr)
        name.with_suffix(".json").write_text(json.dumps({"language": "en", "agent_id": f"A{i}"}))
    shutil.copy(shared("faster_whisper", "hotwords.mp3"), box / "late" / "hotwords.mp3")
    (box / "late" / "hotwords.json").write_text(json.dumps({"language": "en"}))
    if duplicate:  # same audio, another name: must be skipped, never stored twice
        shutil.copy(box / "jfk_part0.wav", box / "late" / "copy_of_part0.wav")
        (box / "late" / "copy_of_part0.json").write_text(json.dumps({"language": "en"}))
    return box


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect"), CALLQA_ASR_BEAM_SIZE="1",
               PYTHONPATH=str(REPO))
    env.pop("PREFECT_API_URL", None)
    return env


def process_cmd(box: Path, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "process", str(box), "--db", str(db), *extra]


def ok_calls(db: Path) -> int:
    from qa.store import Store

    if not db.exists():
        return 0
    try:
        return Store(db, read_timeout_s=5).query("SELECT count(*) FROM calls WHERE status = 'ok'")[0][0]
    except Exception:  # schema not created yet, or busy for 5 s
        return 0


def assert_consistent(db: Path, expected_ok: int, n_items: int) -> None:
    """Each stored call once, with all its rows and no rows without a call."""
    from qa.store import Store

    store = Store(db)
    assert store.query("SELECT count(*), count(DISTINCT call_id), count(DISTINCT content_sha256) FROM calls"
                       " WHERE status = 'ok'") == [(expected_ok, expected_ok, expected_ok)]
    ok = {r[0] for r in store.query("SELECT call_id FROM calls WHERE status = 'ok'")}
    for table in ("utterances", "words", "item_results", "call_scores", "speech_turns"):
        orphans = store.query(f"SELECT DISTINCT call_id FROM {table} WHERE call_id NOT IN (SELECT call_id FROM calls"
                              " WHERE status = 'ok')")
        assert orphans == [], (table, orphans)
    per_call = dict(store.query("SELECT call_id, count(*) FROM item_results WHERE source = 'auto' GROUP BY 1"))
    scores = dict(store.query("SELECT call_id, count(*) FROM call_scores GROUP BY 1"))
    turns = dict(store.query("SELECT call_id, count(*) FROM speech_turns GROUP BY 1"))
    for call_id in ok:
        assert per_call.get(call_id) == n_items and scores.get(call_id) == 1 and turns.get(call_id, 0) >= 1, call_id
        # utterance and word rows of a call agree with each other (no partial write)
        (n_utt, max_idx), = store.query("SELECT count(*), coalesce(max(idx) + 1, 0) FROM utterances WHERE call_id = ?",
                                        [call_id])
        assert n_utt == max_idx
        dangling = store.query("SELECT count(*) FROM words w WHERE call_id = ? AND utterance_idx NOT IN"
                               " (SELECT idx FROM utterances u WHERE u.call_id = w.call_id)", [call_id])
        assert dangling == [(0,)]


def n_rubric_items(rubric_id: str = "en_inbound") -> int:
    from qa.rubric.schema import load_rubric

    return len(load_rubric(REPO / "scoring_rubrics" / f"{rubric_id}.yaml").items())


def test_sigkill_mid_batch_then_rerun_loses_and_duplicates_nothing(tmp_path):
    from qa.runs import recent_runs
    from qa.store import Store

    box = make_inbox(tmp_path, n_cuts=3)
    db = tmp_path / "calls.duckdb"
    env = cli_env(tmp_path)
    proc = subprocess.Popen(process_cmd(box, db, "--workers", "1"), cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while ok_calls(db) < 1:
        assert proc.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline, "no call was stored within 15 minutes"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch, its Prefect server and its worker: all at once
    proc.wait()
    stored_before = ok_calls(db)
    assert 1 <= stored_before < 4
    n_items = n_rubric_items()
    assert_consistent(db, stored_before, n_items)
    assert [r.status for r in recent_runs(Store(db))] == ["running"]

    rerun = subprocess.run(process_cmd(box, db), cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"{4 - stored_before} processed, {stored_before + 1} skipped (already stored), 0 failed." in rerun.stdout
    assert_consistent(db, 4, n_items)
    latest, killed = recent_runs(Store(db))
    assert (killed.status, latest.status) == ("interrupted", "completed")
    assert (latest.calls_total, latest.calls_ok, latest.calls_skipped, latest.calls_failed) == (
        5, 4 - stored_before, stored_before + 1, 0)

    # and the same inbox once more: nothing new
    again = subprocess.run(process_cmd(box, db), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert "0 processed, 5 skipped (already stored), 0 failed." in again.stdout, again.stderr[-2000:]
    assert_consistent(db, 4, n_items)
    assert "fellow Americans" not in rerun.stdout + rerun.stderr + again.stdout


READER = r"""
import json, sys, time, traceback
sys.path.insert(0, sys.argv[1])
from dashboards import data
from qa.access.model import LOCAL_ADMIN as ADMIN
from qa.reviews import ReviewStore
db, stop, out = sys.argv[2], sys.argv[3], sys.argv[4]
saved, errors, pages = [], [], 0
reviews = ReviewStore(db)
import os
while not os.path.exists(stop) or pages < 20:
    try:
        status = data.store_status(db, ADMIN)
        if status.state in ("busy", "error"):
            errors.append("status " + status.state + ": " + status.message)
        calls = data.list_calls(db, ADMIN)
        data.agent_summary(db, ADMIN)
        for call_id in calls.loc[calls["status"] == "ok", "call_id"]:
            data.get_call(db, ADMIN, call_id)
            data.get_utterances(db, ADMIN, call_id)
            items = data.get_item_results(db, ADMIN, call_id)
            if len(items):
                r = items.iloc[pages % len(items)]
                review = reviews.save(call_id, r["rubric_id"], r["rubric_version"], r["item_id"],
                                      ["pass", "fail", "na"][pages % 3], "ops-test", f"page {pages}")
                saved.append(review.review_id)
        pages += 1
    except Exception:
        errors.append(traceback.format_exc())
    time.sleep(0.1)
json.dump({"saved": saved, "errors": errors, "pages": pages}, open(out, "w"))
"""


def test_dashboard_reads_and_reviews_while_a_batch_writes(tmp_path):
    from qa.reviews import ReviewStore

    box = make_inbox(tmp_path, n_cuts=3, duplicate=False)
    db = tmp_path / "calls.duckdb"
    env = cli_env(tmp_path)
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(REPO), str(db), str(stop), str(out)],
                              cwd=REPO, env=env)
    batch = subprocess.run(process_cmd(box, db, "--workers", "2"), cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=1800)
    stop.touch()
    assert reader.wait(timeout=600) == 0
    assert batch.returncode == 0, batch.stderr[-3000:]
    assert "4 processed, 0 skipped (already stored), 0 failed." in batch.stdout
    result = json.loads(out.read_text())
    assert result["errors"] == []
    assert result["saved"], "the reader never saw a stored call to review"
    kept = {r.review_id for r in ReviewStore(db).history()}
    assert set(result["saved"]) <= kept and len(kept) == len(result["saved"])
    assert_consistent(db, 4, n_rubric_items())


def test_batch_on_a_local_dask_cluster(prefect_harness, tmp_path, monkeypatch):
    from pipelines.flows import run_batch
    from qa.config import load_settings
    from qa.store import Store

    monkeypatch.setenv("CALLQA_ASR_BEAM_SIZE", "1")
    box = make_inbox(tmp_path, n_cuts=1, duplicate=False)
    db = tmp_path / "dask.duckdb"
    outcomes = run_batch([str(box)], load_settings(db=db), runner="dask", workers=2, progress=False)
    assert sorted((Path(o["path"]).name, o["status"]) for o in outcomes) == [
        ("hotwords.mp3", "ok"), ("jfk_part0.wav", "ok")]
    assert_consistent(db, 2, n_rubric_items())
    run = Store(db).query("SELECT status, calls_ok, args FROM runs")
    assert run[0][:2] == ("completed", 2) and json.loads(run[0][2])["runner"] == "dask"
