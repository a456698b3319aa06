"""The bundled sample calls through the real Prefect flow, checked against their ground truth.

sample_audio/reference/<call>.json holds what was rendered: each turn's role, time and text,
hand labels of the rubric items, and the personal data spoken. We check storage, roles (share
of speech time attributed to the right role), transcript error, and rubric agreement.
"""

import json

import pytest

from qa.diarization import Turn
from qa.evaluation import role_accuracy, text_error
from qa.store import Store
from tests.conftest import SAMPLES

REFERENCES = sorted((SAMPLES / "reference").glob("*.json"))
# WER per sample call of the STORED (redacted) transcript, measured with these settings (the batch
# flow's 1-thread workers), 2026-12-01: a floor 0.03 above catches a regression, not noise. The
# IBAN and TC kimlik of tr_confused_04 and tr_model_01 are one token each since the PII rules of
# 2026-12-01, against the reference's spelled-out digits: 0.339 -> 0.425 and 0.339 -> 0.376.
MEASURED_WER = {"en_bad_08": 0.344, "en_good_07": 0.158, "en_mixed_09": 0.176, "tr_angry_03": 0.384,
                "tr_confused_04": 0.425, "tr_hasty_06": 0.385, "tr_model_01": 0.376, "tr_poor_02": 0.304,
                "tr_sales_05": 0.309}
MEASURED_AGREEMENT = 0.898  # rubric decisions vs hand labels, 97 of 108


@pytest.fixture(scope="module")
def sample_db(prefect_harness, tmp_path_factory):
    from pipelines.flows import run_batch
    from qa.config import load_settings

    db = tmp_path_factory.mktemp("samples") / "samples.duckdb"
    settings = load_settings(db=db)
    # as `callqa process` runs it: the batch flow with the planned workers (on 2 cores two 1-thread
    # workers, the "1-thread workers" of MEASURED_WER); batch_flow called bare ran one 2-thread worker,
    # a call at a time. Decoding does not depend on it: 1 or 2 threads gave the same WER per call.
    outcomes = run_batch([str(SAMPLES)], settings, progress=False)
    return Store(db), outcomes


def ref(call_id: str) -> dict:
    return json.loads((SAMPLES / "reference" / f"{call_id}.json").read_text(encoding="utf-8"))


def test_there_are_enough_varied_samples():
    refs = [json.loads(p.read_text(encoding="utf-8")) for p in REFERENCES]
    assert len(refs) >= 6
    assert {r["language"] for r in refs} >= {"tr", "en"}
    assert {r["layout"] for r in refs} >= {"stereo", "mono"}
    for r in refs:
        sidecar = json.loads((SAMPLES / f"{r['call_id']}.json").read_text(encoding="utf-8"))
        assert sidecar["call_id"] == r["call_id"] and sidecar["language"] == r["language"]


def test_every_sample_is_stored_with_its_metadata(sample_db):
    store, outcomes = sample_db
    assert sorted(o["status"] for o in outcomes) == ["ok"] * len(REFERENCES)
    for path in REFERENCES:
        r = json.loads(path.read_text(encoding="utf-8"))
        sidecar = json.loads((SAMPLES / f"{r['call_id']}.json").read_text(encoding="utf-8"))
        row = store.query(
            "SELECT agent_id, language, channels, duration_s, source_sample_rate FROM calls WHERE call_id = ?",
            [r["call_id"]],
        )
        assert row, r["call_id"]
        agent_id, language, channels, duration, rate = row[0]
        assert agent_id == sidecar["agent_id"] and language == r["language"]
        assert channels == (2 if r["layout"] == "stereo" else 1)
        assert rate == 8000 and duration == pytest.approx(r["duration_s"], abs=0.5)
        assert store.query("SELECT count(*) FROM call_scores WHERE call_id = ?", [r["call_id"]]) == [(1,)]


@pytest.mark.parametrize("path", REFERENCES, ids=lambda p: p.stem)
def test_roles_and_transcript_match_the_script(sample_db, path):
    store, _ = sample_db
    r = json.loads(path.read_text(encoding="utf-8"))
    reference = [Turn(t["start_s"], t["end_s"], t["role"]) for t in r["turns"]]
    turns = store.query("SELECT speaker_role, start_s, end_s FROM speech_turns WHERE call_id = ?", [r["call_id"]])
    hyp = [Turn(s, e, role) for role, s, e in turns]
    roles = role_accuracy(reference, hyp, r["duration_s"])
    text = " ".join(t for (t,) in store.query("SELECT text FROM utterances WHERE call_id = ? ORDER BY idx", [r["call_id"]]))
    score = text_error(" ".join(t["text"] for t in r["turns"]), text, r["language"])
    print(f"{r['call_id']} ({r['layout']}, {r['language']}): role accuracy {roles['role_accuracy']:.3f} "
          f"(attribution {roles['attribution_accuracy']:.3f}, coverage {roles['coverage']:.3f}), "
          f"WER {score.wer:.3f}, CER {score.cer:.3f}")
    # script turns include the pauses between sentences, so coverage stays below 1 by design
    assert roles["coverage"] >= 0.85
    assert roles["attribution_accuracy"] >= (0.98 if r["layout"] == "stereo" else 0.85)
    assert score.wer <= MEASURED_WER[r["call_id"]] + 0.03


def test_rubric_decisions_agree_with_hand_labels(sample_db):
    store, _ = sample_db
    agree = total = false_auto_fails = 0
    per_item: dict[str, list[int]] = {}
    for path in REFERENCES:
        r = json.loads(path.read_text(encoding="utf-8"))
        got = dict(store.query("SELECT item_id, outcome FROM item_results WHERE call_id = ? AND source = 'auto'", [r["call_id"]]))
        auto_failed = store.query("SELECT auto_failed FROM call_scores WHERE call_id = ?", [r["call_id"]])[0][0]
        if auto_failed and r["labels"].get("no_overpromise") == "pass":
            false_auto_fails += 1
        for item, label in r["labels"].items():
            if item in got:
                ok = int(got[item] == label)
                agree += ok
                total += 1
                per_item.setdefault(item, []).append(ok)
    print("rubric agreement per item:", {k: f"{sum(v)}/{len(v)}" for k, v in sorted(per_item.items())})
    print(f"overall agreement {agree}/{total} = {agree / total:.2f}; false auto-fails {false_auto_fails}")
    assert total >= 30
    assert agree / total >= MEASURED_AGREEMENT - 0.03
    assert false_auto_fails == 0


def test_personal_data_spoken_in_samples_is_not_stored(sample_db):
    from qa.asr import Word
    from qa.pii import find_pii, redact_text

    store, _ = sample_db
    spoken = redacted = 0
    for path in REFERENCES:
        r = json.loads(path.read_text(encoding="utf-8"))
        texts = [t for (t,) in store.query("SELECT text FROM utterances WHERE call_id = ?", [r["call_id"]])]
        texts += [t for (t,) in store.query(
            "SELECT evidence_text FROM item_results WHERE call_id = ? AND evidence_text IS NOT NULL", [r["call_id"]])]
        for text in texts:  # nothing the detector recognises is left in what we stored
            assert redact_text(text, r["language"])[1] == [], f"{r['call_id']}: personal data survived"
        words = [Word(s, e, t, 1.0) for t, s, e in store.query(
            "SELECT text, start_s, end_s FROM words WHERE call_id = ? ORDER BY idx", [r["call_id"]])]
        assert find_pii(words, r["language"]) == [], f"{r['call_id']}: personal data survived in words"
        for item in r.get("pii", []):
            spoken += 1
            value = str(item["value"]).lower()
            assert value not in " ".join(texts).lower()
        redacted += store.query("SELECT count(*) FROM pii_redactions WHERE call_id = ?", [r["call_id"]])[0][0]
    # ASR garbles some spoken numbers below what any detector can recognise (a TC kimlik
    # heard with 9 of its 11 digits); the figure is reported in the issue notes
    print(f"personal data items spoken {spoken}, redactions stored {redacted}")
    assert spoken >= 5 and redacted >= spoken * 0.5


def test_rescore_with_a_new_rubric_version_needs_no_transcription(sample_db, tmp_path, monkeypatch, settings):
    import shutil

    import qa.asr
    import qa.pipeline
    from qa.rescore import rescore
    from qa.rubric.schema import load_rubric, parse_rubric

    store, _ = sample_db
    db = tmp_path / "copy.duckdb"
    shutil.copy(store.path, db)
    copy = Store(db)

    def no_asr(*args, **kwargs):
        raise AssertionError("re-scoring must not transcribe")

    monkeypatch.setattr(qa.pipeline, "process_call", no_asr)
    monkeypatch.setattr(qa.asr, "transcribe", no_asr)
    words_before = copy.query("SELECT count(*), sum(length(text)) FROM words")
    old = load_rubric(settings.rubric_dir / "tr_inbound.yaml")
    text = (settings.rubric_dir / "tr_inbound.yaml").read_text(encoding="utf-8")
    text = text.replace(f'version: "{old.version}"', 'version: "test-next"', 1)
    new = parse_rubric(text, "edited.yaml")
    assert new.version == "test-next"
    outcomes = rescore(copy, settings, new)
    turkish = {r[0] for r in copy.query("SELECT call_id FROM calls WHERE language = 'tr' AND status = 'ok'")}
    assert {o.call_id for o in outcomes if o.status == "ok"} == turkish
    assert all(o.status == "skipped" and "rubric is for 'tr'" in o.reason for o in outcomes if o.call_id not in turkish)
    for call_id in turkish:  # the old version's score stays beside the new one
        versions = {v for (v,) in copy.query("SELECT rubric_version FROM call_scores WHERE call_id = ?", [call_id])}
        assert versions == {old.version, "test-next"}
        old_items = copy.query("SELECT item_id, outcome FROM item_results WHERE call_id = ? AND rubric_version = ?"
                               " ORDER BY item_id", [call_id, old.version])
        new_items = copy.query("SELECT item_id, outcome FROM item_results WHERE call_id = ? AND rubric_version = ?"
                               " ORDER BY item_id", [call_id, "test-next"])
        assert old_items == new_items  # same rubric content, same stored analysis -> same decisions
    assert copy.query("SELECT count(*), sum(length(text)) FROM words") == words_before
    again = rescore(copy, settings, new)  # idempotent: replaces its own rows
    assert [o.score_pct for o in again] == [o.score_pct for o in outcomes]
    assert copy.query("SELECT count(*) FROM call_scores WHERE rubric_version = 'test-next'") == [(len(turkish),)]


def test_redacted_audio_export_covers_personal_data(sample_db, tmp_path):
    import numpy as np
    import soundfile as sf

    from qa.export import TONE_HZ, export_redacted

    store, _ = sample_db
    call_id, n = store.query(
        "SELECT call_id, count(*) FROM pii_redactions GROUP BY call_id ORDER BY count(*) DESC, call_id LIMIT 1")[0]
    assert n >= 1
    source = store.query("SELECT source_path FROM calls WHERE call_id = ?", [call_id])[0][0]
    result = export_redacted(store, call_id, tmp_path / f"{call_id}.redacted.wav")
    original, sr = sf.read(source, dtype="float32", always_2d=True)
    redacted, sr2 = sf.read(result.out_path, dtype="float32", always_2d=True)
    assert sr2 == sr == result.sample_rate and redacted.shape == original.shape
    assert result.covered_s > 0 and len(result.ranges) >= 1
    inside = np.zeros(len(original), dtype=bool)
    for a, b in result.ranges:
        inside[int(a * sr):int(np.ceil(b * sr))] = True
    # outside the ranges the audio is the original (up to 16-bit rounding)
    assert np.max(np.abs(redacted[~inside] - original[~inside])) < 2e-4
    # inside, the speech is gone: what is left is a 1 kHz tone
    a, b = result.ranges[0]
    seg = redacted[int((a + 0.05) * sr):int((b - 0.05) * sr), 0]
    spectrum = np.abs(np.fft.rfft(seg))
    peak_hz = np.argmax(spectrum) * sr / len(seg)
    assert abs(peak_hz - TONE_HZ) < 15
    silent = export_redacted(store, call_id, tmp_path / "silent.flac", mode="silence")
    quiet, _ = sf.read(silent.out_path, dtype="float32", always_2d=True)
    assert np.max(np.abs(quiet[inside])) == 0.0


def test_conversation_analysis_is_stored_and_matches_the_scripts(sample_db):
    from qa.holds import match_holds

    store, _ = sample_db
    found = missed = false = 0
    for path in REFERENCES:
        r = json.loads(path.read_text(encoding="utf-8"))
        metrics = dict(store.query("SELECT name, value FROM call_metrics WHERE call_id = ?", [r["call_id"]]))
        ref_agent = sum(t["end_s"] - t["start_s"] for t in r["turns"] if t["role"] == "agent")
        ref_total = sum(t["end_s"] - t["start_s"] for t in r["turns"])
        # talk ratio from speech activity, against the script's turn spans (which include pauses)
        assert metrics["talk_ratio_agent"] == pytest.approx(ref_agent / ref_total, abs=0.12), r["call_id"]
        assert metrics["duration_s"] == pytest.approx(r["duration_s"], abs=0.5)
        holds = [(s, e) for s, e in store.query(
            "SELECT start_s, end_s FROM call_events WHERE call_id = ? AND kind = 'hold'", [r["call_id"]])]
        m = match_holds(holds, [(h["start_s"], h["end_s"]) for h in r["holds"]])
        found, missed, false = found + m["found"], missed + m["missed"], false + m["false"]
        assert metrics["hold_count"] == len(holds)
        labels = store.query("SELECT count(*), count(sentiment_label) FROM utterances WHERE call_id = ?", [r["call_id"]])[0]
        assert labels[0] == labels[1] > 0  # every utterance has a sentiment
        for profile, strategy in store.query("SELECT profile, strategy FROM call_profiles WHERE call_id = ?", [r["call_id"]]):
            assert strategy and len(strategy) > 20, profile
    print(f"holds: found {found}, missed {missed}, false {false}")
    assert missed <= 1 and false <= 1


def test_rescore_and_export_from_the_command_line(sample_db, tmp_path):
    import shutil
    import subprocess
    import sys

    store, _ = sample_db
    db = tmp_path / "cli.duckdb"
    shutil.copy(store.path, db)
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "rescore", "--db", str(db), "--rubric", "en_inbound"],
                         capture_output=True, text=True, timeout=300)
    english = store.query("SELECT count(*) FROM calls WHERE language = 'en' AND status = 'ok'")[0][0]
    assert run.returncode == 0, run.stderr
    assert f"Re-scored {english} call(s); {len(REFERENCES) - english} skipped, 0 failed." in run.stdout
    call_id = store.query("SELECT call_id FROM pii_redactions ORDER BY call_id LIMIT 1")[0][0]
    out = tmp_path / "x.flac"
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "export", call_id, "--db", str(db), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and out.exists(), run.stderr
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "export", "no-such-call", "--db", str(db), "--out",
                          str(tmp_path / "y.wav")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "not in the store" in run.stderr


def test_fast_rescore_equals_the_per_call_path_on_the_samples(sample_db, tmp_path, settings):
    """The batch path gives exactly the per-call path's outcomes, item results (evidence included) and scores."""
    import shutil

    from qa.rescore import rescore, rescore_per_call

    store, _ = sample_db
    old, new = tmp_path / "old.duckdb", tmp_path / "new.duckdb"
    shutil.copy(store.path, old)
    shutil.copy(store.path, new)
    want = rescore_per_call(Store(old), settings)
    got = rescore(Store(new), settings, batch_size=4)
    assert got == want and {o.status for o in want} == {"ok"} and len(want) == len(REFERENCES)
    for sql in ("SELECT * EXCLUDE (created_at) FROM item_results ORDER BY ALL",
                "SELECT * EXCLUDE (scored_at) FROM call_scores ORDER BY ALL"):
        assert Store(old).query(sql) == Store(new).query(sql)
    assert Store(new).query("SELECT count(*) FROM item_results WHERE evidence_text IS NOT NULL")[0][0] > 20
