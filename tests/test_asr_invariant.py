"""The pipeline never loses speech that bare faster-whisper hears (issue: a call's opening sentence
vanished once diarization regions were joined to the ASR gate).

For every real recording in ../shared/data, bare faster-whisper (same model, compute type, beam and
language, its own decoder and Silero VAD defaults) is compared with the pipeline's words: a bare
segment of 3+ words where the pipeline kept under half as many words is a lost segment. The short
clips run in the default suite; the long calls (both AWS calls as stereo and mono, the PCA call) in
the slow one.
"""

from __future__ import annotations

import pytest

from qa.eval_harness import eval_asr_loss
from tests.conftest import SHARED, shared


def _check(settings, tmp_path, names: set[str], cache: dict) -> None:
    rows = eval_asr_loss(settings, SHARED, tmp_path, cache=cache, only=names)
    assert {r["recording"] for r in rows} == names
    for row in rows:
        print(f"{row['recording']}: {row['bare_segments']} bare segments of 3+ words, {row['lost']} lost")
    lost = {r["recording"]: r["lost_segments"] for r in rows if r["lost"]}
    assert not lost, f"speech bare faster-whisper hears was lost: {lost}"


def test_short_real_clips_lose_nothing(settings, tmp_path, real_calls):
    for parts in (("pyannote_sample", "sample.wav"), ("faster_whisper", "jfk.flac"),
                  ("faster_whisper", "stereo_diarization.wav"), ("faster_whisper", "hotwords.mp3")):
        shared(*parts)
    # the pipeline runs are shared with test_speech_real (same clips, same session settings)
    _check(settings, tmp_path, {"pyannote sample", "jfk.flac", "stereo_diarization.wav", "hotwords.mp3"}, real_calls)


@pytest.mark.slow
def test_long_real_calls_lose_nothing(settings, tmp_path, real_calls):
    shared("aws_lca", "Auto_Repairs_40_UTC_agent.wav")
    shared("aws_pca")
    _check(settings, tmp_path, {"AWS call 40 stereo", "AWS call 40 mono", "AWS call 49 stereo", "AWS call 49 mono",
                                "AWS PCA Auto0 (mono, 8-bit)", "multilingual.mp3 (language detected)"}, real_calls)
