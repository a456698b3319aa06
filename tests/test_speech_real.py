"""Real models on real recordings: transcription, hallucination guards, diarization and roles.

Figures are printed (run with -s) and asserted against floors 0.03 from what `make eval` measured
with the same settings (benchmarks/results/eval/eval.md, 2026-12-01): decoding is deterministic,
so a floor this close catches a real regression, not noise.
"""

import json

import numpy as np
import pytest

from qa.asr import load_model, transcribe
from qa.audio import load_audio
from qa.diarization import diarize
from qa.evaluation import der, read_rttm, read_stm, role_accuracy, role_turns, text_error, two_track_reference
from qa.models import resolve_asr_model
from qa.pipeline import process_call
from tests.conftest import REPO, aws_tracks, in_pairs, mix_aws, shared


@pytest.fixture(scope="module")
def model(settings):
    return load_model(resolve_asr_model(settings), settings.asr_compute_type, settings.asr_threads)


@pytest.fixture(scope="module")
def expected():
    return json.loads(shared("faster_whisper", "expected_from_tests.json").read_text())


def test_jfk_transcript(model, expected):
    audio = load_audio(shared("faster_whisper", "jfk.flac"))
    tr = transcribe(model, audio.mono(), "en")
    score = text_error(expected["jfk.flac"]["text_sequential"], tr.text, "en")
    print(f"jfk WER {score.wer:.3f} CER {score.cer:.3f}")
    assert score.wer <= 0.03  # measured 0.000
    assert all(w.end > w.start >= 0 for w in tr.words) and tr.words[-1].end <= 11.1


def test_stereo_channels_transcribed_separately(settings, expected, tmp_path):
    path = tmp_path / "stereo.wav"
    path.write_bytes(shared("faster_whisper", "stereo_diarization.wav").read_bytes())
    (tmp_path / "stereo.json").write_text('{"language": "en", "agent_channel": 1}')
    result = process_call(path, settings)
    by_role = {r: " ".join(u.text for u in result.utterances if u.role == r) for r in ("agent", "customer")}
    left = text_error(expected["stereo_diarization.wav"]["left_channel"], by_role["customer"], "en")
    right = text_error(expected["stereo_diarization.wav"]["right_channel"], by_role["agent"], "en")
    print(f"stereo left WER {left.wer:.3f}, right WER {right.wer:.3f}")
    assert left.wer <= 0.03 and right.wer <= 0.03  # measured 0.000 / 0.000
    assert result.role_method == "metadata" and result.diarization_method == "stereo-channels"


def test_same_audio_gives_the_same_words(asr_pair):
    """A mono Turkish sample call on which whisper's sampling fallback gave 189-266 words from
    run to run: decoding at temperature 0 alone gives the same words (and times) every time.

    The two runs go at once, on the two single-threaded replicas of `asr_pair`."""
    samples = load_audio(REPO / "sample_audio" / "tr_angry_03.mp3").read_mono(0, None)
    runs = in_pairs(lambda _: transcribe(asr_pair, samples, "tr").words, [0, 1])
    assert len(runs[0]) > 150
    assert [(w.text, w.start, w.end) for w in runs[0]] == [(w.text, w.start, w.end) for w in runs[1]]


@pytest.mark.parametrize("language", ["tr", "en"])
def test_silence_and_line_noise_produce_no_words(model, language):
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 20) / 16000
    hum = 0.002 * np.sin(2 * np.pi * 50 * t)  # mains hum plus a faint noise floor
    samples = (hum + 0.001 * rng.standard_normal(len(t))).astype(np.float32)
    tr = transcribe(model, samples, language)
    assert tr.words == []


def test_pyannote_sample_diarization_and_transcript(settings, real_calls):
    wav = shared("pyannote_sample", "sample.wav")
    audio = load_audio(wav)
    hyp = diarize(audio)
    ref = read_rttm(shared("pyannote_sample", "sample.rttm"))
    d0, d25 = der(ref, hyp.turns, 0.0), der(ref, hyp.turns, 0.25)
    print(f"pyannote sample DER collar 0: {d0}, collar 0.25: {d25}")
    # 1.9 s of the 22.5 s is overlap, which a mono clusterer cannot split; measured 0.207 / 0.123
    assert d0["der"] <= 0.237 and d25["der"] <= 0.153
    key = ("real", "pyannote sample")  # qa.eval_harness's key: test_asr_invariant runs the same call
    if key not in real_calls:
        real_calls[key] = process_call(wav, settings.model_copy(update={"language": "en"}))
    result = real_calls[key]
    reference = " ".join(r[3] for r in read_stm(shared("pyannote_sample", "sample.stm")))
    score = text_error(reference, " ".join(u.text for u in result.utterances), "en")
    print(f"pyannote sample WER {score.wer:.3f} CER {score.cer:.3f}")
    assert score.wer <= 0.24  # measured 0.210


# (call, layout) -> role accuracy, agent recall, customer recall measured by `make eval` (2026-12-01)
MEASURED_ROLES = {
    (40, "stereo"): (0.989, 0.991, 0.987), (40, "mono"): (0.986, 0.989, 0.984),
    (49, "stereo"): (0.989, 1.000, 0.972), (49, "mono"): (0.934, 0.969, 0.882),
}


def check_aws(call, layout, settings, aws_dir):
    path = mix_aws(call, aws_dir, layout)
    (aws_dir / f"aws{call}_{layout}.json").write_text('{"language": "en", "direction": "inbound"}')
    result = process_call(path, settings)
    ref, duration = two_track_reference(*aws_tracks(call))
    hyp = role_turns(result)
    roles = role_accuracy(ref, hyp, duration)
    d0, d25 = der(ref, hyp, 0.0), der(ref, hyp, 0.25)
    print(f"AWS {call} {layout}: roles {roles} DER@0 {d0} DER@0.25 {d25} "
          f"role confidence {result.role_confidence} timings {result.timings}")
    accuracy, agent, customer = MEASURED_ROLES[(call, layout)]
    assert roles["role_accuracy"] >= accuracy - 0.03
    assert roles["agent_recall"] >= agent - 0.03 and roles["customer_recall"] >= customer - 0.03
    assert result.call_score is not None
    return result


@pytest.mark.slow
def test_aws_call_40_stereo_roles(settings, aws_dir):
    result = check_aws(40, "stereo", settings, aws_dir)
    # no sidecar agent_channel here: the agent side was recognised from what it said
    assert result.role_method == "phrases+turn-order" and result.role_confidence >= 0.8


@pytest.mark.slow
def test_aws_call_40_mono_roles(settings, aws_dir):
    check_aws(40, "mono", settings, aws_dir)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["stereo", "mono"])
def test_aws_call_49_roles(settings, aws_dir, layout):
    check_aws(49, layout, settings, aws_dir)
