"""Voice activity detection: level normalisation before Silero, on constructed and real audio."""

from __future__ import annotations

import numpy as np
import pytest

from qa.audio import SAMPLE_RATE, load_audio
from qa.evaluation import energy_activity
from qa.vad import VAD_LEVEL_DBFS, speech_regions, vad_gain
from tests.conftest import aws_tracks


def _tone_bursts(level_db: float, seconds: float = 10.0) -> np.ndarray:
    """Bursts of a 300 Hz tone at `level_db` RMS, one second on, one off."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = np.sin(2 * np.pi * 300 * t) * np.sqrt(2) * 10 ** (level_db / 20)
    x[(t.astype(int) % 2) == 1] = 0.0
    return x.astype(np.float32)


@pytest.mark.parametrize(
    "level_db, expected_gain_db",
    [
        (-6.0, VAD_LEVEL_DBFS + 6.0),  # hot telephone track: turned down to the target
        (-20.0, VAD_LEVEL_DBFS + 20.0),
        (-30.0, 0.0),  # at the target: untouched
        (-45.0, 0.0),  # quiet: never amplified
    ],
)
def test_vad_gain_brings_loud_signals_down_only(level_db, expected_gain_db):
    gain = vad_gain(_tone_bursts(level_db))
    assert 20 * np.log10(gain) == pytest.approx(expected_gain_db, abs=0.2)


@pytest.mark.parametrize("signal", [np.zeros(SAMPLE_RATE * 3, np.float32), np.zeros(100, np.float32)])
def test_vad_gain_of_silence_or_a_scrap_is_one(signal):
    assert vad_gain(signal) == 1.0


def test_hot_caller_track_keeps_its_speech():
    """AWS call 49's caller track peaks at 0 dBFS; un-normalised, Silero found 34% of its audible frames."""
    x = load_audio(aws_tracks(49)[1]).read(0, None)[0]
    n = len(x) // 160 + 1
    audible, found = np.zeros(n, bool), np.zeros(n, bool)
    for t in energy_activity(x, "caller"):  # the evaluation's reference for a clean track
        audible[int(t.start * 100) : int(t.end * 100)] = True
    for r in speech_regions(x):
        found[int(r.start * 100) : int(r.end * 100)] = True
    recall = (found & audible).sum() / audible.sum()
    precision = (found & audible).sum() / found.sum()
    assert recall > 0.5 and precision > 0.95  # measured 0.65 / 0.98 (threshold 0.5; 0.34 before the level fix)
