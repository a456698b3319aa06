"""The DuckDB store: idempotent replacement, failures that damage nothing, lock retry."""

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from qa.asr import Word
from qa.metadata import CallMetadata
from qa.pipeline import CallResult
from qa.rubric.engine import CallScore, ItemResult
from qa.store import Store, StoreBusy
from qa.transcript import Utterance


def make_result(call_id="c1", sha="aa", text="merhaba", score=80.0) -> CallResult:
    words = [Word(0.5, 0.9, text, 0.9, 0)]
    utt = Utterance(0, "ch0", "agent", 0.5, 0.9, text, 0.9, words)
    items = [ItemResult("opening", "greet", "pass", 1.0, 1.0, False, "phrases", "matched", text, "agent", 0.5, 0.9, 95.0)]
    return CallResult(
        call_id=call_id, source_path=Path(f"/calls/{call_id}.wav"), content_sha256=sha,
        metadata=CallMetadata(call_id=call_id, agent_id="A1", direction="inbound"), duration_s=10.0, channels=2,
        source_sample_rate=8000, codec="WAV/PCM_16", language="tr", language_probability=1.0, asr_model="bundled:base",
        diarization_method="stereo-channels", role_method="metadata", role_confidence=1.0, utterances=[utt],
        activity=[("ch0", "agent", 0.4, 1.0)], pii=[],
        item_results=items, call_score=CallScore("tr_inbound", "1", score, False, "meets", "", {"opening": score}),
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.duckdb")
    s.init()
    return s


def test_saving_twice_keeps_one_call(store):
    store.save_call(make_result(text="ilk"))
    store.save_call(make_result(text="ikinci", score=90.0))
    assert store.query("SELECT count(*) FROM calls") == [(1,)]
    assert store.query("SELECT text FROM utterances") == [("ikinci",)]
    assert store.query("SELECT count(*) FROM item_results") == [(1,)]
    assert store.query("SELECT score_pct FROM call_scores") == [(90.0,)]
    assert store.find_by_sha("aa") == ("c1", "ok")


def test_failure_never_overwrites_a_good_call(store):
    store.save_call(make_result())
    store.record_failure("/calls/c1-copy.wav", "bb", "c1", "decode", "cannot decode audio")
    assert store.query("SELECT status, error FROM calls") == [("ok", None)]
    assert store.query("SELECT call_id, stage, error FROM failures") == [("c1", "decode", "cannot decode audio")]


def test_failed_call_is_replaced_by_a_later_success(store):
    store.record_failure("/calls/c2.wav", "cc", "c2", "asr", "timeout")
    assert store.query("SELECT status, error_stage FROM calls WHERE call_id = 'c2'") == [("failed", "asr")]
    store.save_call(make_result("c2", "cc"))
    assert store.query("SELECT status, error FROM calls WHERE call_id = 'c2'") == [("ok", None)]


def test_reviewer_rows_survive_reprocessing(store):
    store.save_call(make_result())
    with store.connect() as con:
        con.execute(
            "INSERT INTO item_results (call_id, rubric_id, rubric_version, item_id, outcome, score, max_score, source, reviewer)"
            " VALUES ('c1', 'tr_inbound', '1', 'greet', 'fail', 0, 1, 'reviewer', 'qa.lead')"
        )
    store.save_call(make_result())
    assert store.query("SELECT source, outcome FROM item_results ORDER BY source") == [("auto", "pass"), ("reviewer", "fail")]


def test_failed_write_rolls_back(store):
    store.save_call(make_result(text="kalıcı"))
    bad = make_result(text="yarım")
    bad.item_results[0].score = "not a number"  # the insert fails half-way through the transaction
    with pytest.raises(duckdb.Error):
        store.save_call(bad)
    assert store.query("SELECT text FROM utterances") == [("kalıcı",)]
    assert store.query("SELECT count(*) FROM item_results") == [(1,)]


HOLDER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_writer_waits_for_another_process_then_succeeds(store):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.path), "1.5"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    t0 = time.monotonic()
    store.save_call(make_result())  # blocked until the other process lets go, then written
    assert time.monotonic() - t0 > 0.5
    proc.wait()
    assert store.query("SELECT count(*) FROM calls") == [(1,)]


def test_writer_gives_up_with_a_clear_error(tmp_path):
    store = Store(tmp_path / "busy.duckdb", timeout_s=0.5)
    store.init()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.path), "5"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    try:
        with pytest.raises(StoreBusy, match="locked by another process"):
            store.save_call(make_result())
    finally:
        proc.kill()
        proc.wait()
