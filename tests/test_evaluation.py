"""The evaluation harness itself: the measures on constructed cases with known answers, the
reference readers on the shared files, and `callqa eval` end to end (skips, errors, reports)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from qa.diarization import Turn
from qa.eval_harness import SUITES, run_eval, to_markdown
from qa.evaluation import der, mix_tracks, read_rttm, read_stm, role_accuracy, text_error
from tests.conftest import REPO, SHARED, aws_tracks, shared

TWO = [Turn(0.0, 10.0, "A"), Turn(10.0, 20.0, "B")]


@pytest.mark.parametrize(
    "name, hyp, collar, want",
    [
        ("same turns, other names", [Turn(0, 10, "x"), Turn(10, 20, "y")], 0.0,
         {"der": 0.0, "missed": 0.0, "false_alarm": 0.0, "confusion": 0.0}),
        ("one speaker for all", [Turn(0, 20, "x")], 0.0, {"der": 0.5, "confusion": 0.5, "missed": 0.0}),
        ("second half missed", [Turn(0, 10, "x")], 0.0, {"der": 0.5, "missed": 0.5, "confusion": 0.0}),
        ("5 s of speech after the end", [Turn(0, 10, "x"), Turn(10, 25, "y")], 0.0, {"der": 0.25, "false_alarm": 0.25}),
        ("boundaries 0.1 s late", [Turn(0.1, 10.1, "x"), Turn(10.1, 20, "y")], 0.0, {"der": 0.01}),
        ("boundaries 0.1 s late, collar 0.25 s", [Turn(0.1, 10.1, "x"), Turn(10.1, 20, "y")], 0.25, {"der": 0.0}),
    ],
)
def test_der_known_answers(name, hyp, collar, want):
    got = der(TWO, hyp, collar)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-3), (name, key, got)
    assert got["speech_s"] == pytest.approx(20.0 if collar == 0 else 19.5, abs=1e-3)  # +-0.125 s at 0, 10, 20


AGENT_CUSTOMER = [Turn(0, 10, "agent"), Turn(10, 20, "customer")]


@pytest.mark.parametrize(
    "name, reference, hyp, want",
    [
        ("all right", AGENT_CUSTOMER, AGENT_CUSTOMER,
         {"role_accuracy": 1.0, "coverage": 1.0, "agent_recall": 1.0, "customer_recall": 1.0}),
        ("roles swapped", AGENT_CUSTOMER, [Turn(0, 10, "customer"), Turn(10, 20, "agent")],
         {"role_accuracy": 0.0, "attribution_accuracy": 0.0, "coverage": 1.0}),
        ("customer never detected", AGENT_CUSTOMER, [Turn(0, 10, "agent")],
         {"role_accuracy": 0.5, "attribution_accuracy": 1.0, "coverage": 0.5, "agent_recall": 1.0,
          "customer_recall": 0.0}),
        ("both roles claimed at once is not right", AGENT_CUSTOMER, [Turn(0, 20, "agent"), Turn(0, 20, "customer")],
         {"role_accuracy": 0.0, "coverage": 1.0}),
        ("overlapped reference speech is not scored", [Turn(0, 12, "agent"), Turn(10, 20, "customer")],
         AGENT_CUSTOMER, {"role_accuracy": 1.0, "scored_speech_s": 18.0}),
    ],
)
def test_role_accuracy_known_answers(name, reference, hyp, want):
    got = role_accuracy(reference, hyp, 20.0)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-3), (name, key, got)


@pytest.mark.parametrize(
    "reference, hypothesis, language, wer, ref_words",
    [
        ("İSTANBUL'A GİDİYORUM", "istanbula gidiyorum", "tr", 0.0, 2),  # dotted capital İ; apostrophe dropped
        ("Anadolu Telekom’u aradım", "anadolu telekom'u aradım", "tr", 0.0, 3),  # either apostrophe
        ("IŞIK YANDI", "ışık yandı", "tr", 0.0, 2),  # Turkish dotless capital I
        ("IŞIK YANDI", "isik yandi", "tr", 1.0, 2),  # but "ı"/"i" and "ş"/"s" are different letters
        ("Hello, world!", "hello world", "en", 0.0, 2),  # case and punctuation are not errors
        ("bir iki üç dört", "bir iki beş dört", "tr", 0.25, 4),
        ("bir iki üç dört", "bir iki dört", "tr", 0.25, 4),
        ("thank you for calling", "", "en", 1.0, 4),
    ],
)
def test_text_error_normalises_turkish_and_counts_words(reference, hypothesis, language, wer, ref_words):
    score = text_error(reference, hypothesis, language)
    assert score.wer == pytest.approx(wer)
    assert score.ref_words == ref_words
    assert 0.0 <= score.cer <= 1.0


def test_text_error_without_a_reference_is_not_a_number():
    score = text_error("", "something", "en")
    assert math.isnan(score.wer) and score.ref_words == 0


def test_reference_readers_on_the_pyannote_sample():
    turns = read_rttm(shared("pyannote_sample", "sample.rttm"))
    assert len(turns) == 10 and {t.speaker for t in turns} == {"speaker90", "speaker91"}
    assert all(0 <= t.start < t.end <= 30.0 for t in turns)
    rows = read_stm(shared("pyannote_sample", "sample.stm"))
    assert len(rows) == 13 and {r[0] for r in rows} == {"Diane", "Sheila"}
    assert rows[0][3].strip() and all(r[1] <= r[2] for r in rows)


@pytest.mark.parametrize("layout", ["stereo", "mono"])
def test_mix_tracks_keeps_each_track(layout, tmp_path):
    agent_p, caller_p = aws_tracks(40)
    agent, sr = sf.read(agent_p, dtype="float32")
    caller, _ = sf.read(caller_p, dtype="float32")
    out, out_sr = sf.read(mix_tracks(agent_p, caller_p, tmp_path / "mix.wav", layout), dtype="float32")
    n = min(len(agent), len(caller))
    assert out_sr == sr and len(out) == n
    if layout == "stereo":
        assert np.allclose(out[:, 0], agent[:n], atol=1e-4) and np.allclose(out[:, 1], caller[:n], atol=1e-4)
    else:
        assert out.ndim == 1 and np.allclose(out, (agent[:n] + caller[:n]) / 2, atol=1e-4)


def test_every_suite_without_its_data_is_skipped_with_a_reason(settings, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = run_eval(settings.model_copy(update={"sentiment": "off"}), empty, empty, tmp_path / "work")
    assert set(res["skipped"]) == set(SUITES) and res["errors"] == {}
    assert all(str(empty) in why or "switched off" in why for why in res["skipped"].values())
    md = to_markdown(res)
    assert md.startswith("Machine: ") and f"{res['machine']['cores']} cores" in md
    assert md.count("skipped (") == len(SUITES)


def test_a_broken_suite_is_recorded_and_the_others_still_run(settings, tmp_path):
    """Real pipeline on the pyannote sample; a sample-call reference that is not JSON breaks the rubric suite."""
    shared("pyannote_sample")
    samples = tmp_path / "samples"
    (samples / "reference").mkdir(parents=True)
    (samples / "reference" / "broken.json").write_text("{not json")
    res = run_eval(settings, SHARED, samples, tmp_path / "work", ("pyannote", "rubric"))
    assert "rubric" in res["errors"] and "JSONDecodeError" in res["errors"]["rubric"]
    row = res["pyannote"][0]
    assert 0.0 < row["der_collar025"] < 0.3 and row["der_collar0"] >= row["der_collar025"]
    assert 0.0 <= row["wer"] < 0.35 and 0.0 <= row["cer"] <= row["wer"] + 0.05
    assert set(res["suite_seconds"]) == {"pyannote", "rubric"}
    md = to_markdown(res)
    assert "**pyannote sample**" in md and "**rubric**: failed (JSONDecodeError" in md
    assert f"| {res['pyannote'][0]['recording']} | {row['der_collar0']:.3f} |" in md


def test_callqa_eval_writes_json_and_markdown(tmp_path):
    """The command in a real process: a suite whose data is absent still yields both reports."""
    empty = tmp_path / "nothing"
    empty.mkdir()
    out = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "eval", "--suite", "roles", "--suite", "pyannote",
         "--shared-data", str(empty), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((out / "eval.json").read_text())
    assert set(data["skipped"]) == {"roles", "pyannote"} and data["machine"]["cores"] >= 1
    assert (out / "eval.md").read_text().startswith("Machine: ")
    assert "Written" in run.stdout
