"""Stereo activity: Silero VAD plus an energy second opinion per channel, against the clean tracks.

The reference is each clean AWS track's own energy (`qa.evaluation.energy_activity`); echo is
added with a delay at telephone-like levels to check the second opinion does not let it in.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from qa.audio import SAMPLE_RATE, load_audio
from qa.diarization import Turn, diarize
from qa.diarization.levels import frame_db
from qa.diarization.stereo import activity_from
from qa.evaluation import der, energy_activity, role_accuracy
from tests.conftest import aws_tracks


def _bursts(level_db: float, floor_db: float = -70.0, seconds: int = 8, on_s: float = 1.0, seed: int = 0) -> np.ndarray:
    """A 300 Hz tone at `level_db` for `on_s` of every 2 s, over white noise at `floor_db`."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * SAMPLE_RATE) / SAMPLE_RATE
    x = np.sin(2 * np.pi * 300 * t) * np.sqrt(2) * 10 ** (level_db / 20)
    x[(t % 2) >= on_s] = 0.0
    return (x + rng.standard_normal(len(t)) * 10 ** (floor_db / 20)).astype(np.float32)


@pytest.mark.parametrize(
    "signal, expected",
    [
        (_bursts(-20.0), [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0), (6.0, 7.0)]),
        (_bursts(-45.0, floor_db=-90.0), [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0), (6.0, 7.0)]),  # quiet but clean
        (_bursts(-20.0, on_s=0.05), []),  # 50 ms clicks are not speech
        (np.zeros(SAMPLE_RATE * 3, np.float32), []),  # digital silence
        (_bursts(-200.0, floor_db=-50.0), []),  # steady noise only: no loud part by its own standard
    ],
    ids=["bursts", "quiet-bursts", "clicks", "silence", "noise"],
)
def test_energy_reference_on_constructed_tracks(signal, expected):
    turns = energy_activity(signal, "x")
    assert len(turns) == len(expected)
    for t, (start, end) in zip(turns, expected):
        assert t.start == pytest.approx(start, abs=0.04) and t.end == pytest.approx(end, abs=0.04)


def test_energy_second_opinion_hears_what_vad_missed_and_never_echo():
    """Two parties take turns in bursts Silero does not call speech (tones, so only the energy
    opinion can find them); each channel also carries the other's echo 30 dB down, 20 ms late.
    Each channel is active in its own bursts and never in the other's."""
    first = _bursts(-20.0)  # [2k, 2k + 1) s
    second = np.roll(_bursts(-26.0, on_s=0.6, seed=1), SAMPLE_RATE)  # [2k + 1, 2k + 1.6) s
    g, d = np.float32(10 ** (-30 / 20)), 320
    left = first + np.concatenate([np.zeros(d, np.float32), second[:-d]]) * g
    right = second + np.concatenate([np.zeros(d, np.float32), first[:-d]]) * g
    masks = activity_from([frame_db(left, SAMPLE_RATE), frame_db(right, SAMPLE_RATE)], [[], []])
    own = [np.zeros_like(masks[0]) for _ in range(2)]
    for k in range(4):  # 10 ms frames, 0.1 s margins left out
        own[0][k * 200 + 10 : k * 200 + 90] = True
        own[1][k * 200 + 110 : k * 200 + 150] = True
    for ch, other in ((0, 1), (1, 0)):
        assert masks[ch][own[ch]].all(), f"channel {ch} missed its own speech"
        assert not masks[ch][own[other]].any(), f"channel {ch} took the other side's echo"


def test_hold_music_on_the_agent_channel_is_not_activity():
    """An 8 s arpeggio of soft tones (hold music, 12 dB under the speech) between two turns:
    loud by the channel's standard, but far longer than a missed answer, so not speech."""
    t = np.arange(8 * SAMPLE_RATE) / SAMPLE_RATE
    notes = np.array([262.0, 330.0, 392.0, 523.0])[(t * 4).astype(int) % 4]
    music = (np.sin(2 * np.pi * notes * t) * np.sqrt(2) * 10 ** (-32 / 20)).astype(np.float32)
    turn = _bursts(-20.0, seconds=2)  # 1 s of "speech", 1 s of quiet
    agent = np.concatenate([turn, music, np.roll(turn, SAMPLE_RATE)])  # speech 0-1 s, music 2-10 s, speech 11-12 s
    customer = _bursts(-200.0, seconds=12, seed=2)  # the customer waits in silence
    agent_mask, customer_mask = activity_from(
        [frame_db(agent, SAMPLE_RATE), frame_db(customer, SAMPLE_RATE)], [[], []])
    assert agent_mask[10:90].all() and agent_mask[1110:1190].all()  # both turns heard
    assert not agent_mask[210:1090].any() and not customer_mask.any()


@pytest.fixture(scope="module")
def aws49_reference():
    agent, caller = (load_audio(p) for p in aws_tracks(49))
    return energy_activity(agent.mono(), "agent") + energy_activity(caller.mono(), "customer"), agent.duration_s


def _stereo(tmp_path, echo_db: float | None = None):
    agent_p, caller_p = aws_tracks(49)
    agent, sr = sf.read(agent_p, dtype="float32")
    caller, _ = sf.read(caller_p, dtype="float32")
    n = min(len(agent), len(caller))
    left, right = agent[:n].copy(), caller[:n].copy()
    if echo_db is not None:  # each side hears the other 20 ms late and `echo_db` down
        g, d = np.float32(10 ** (echo_db / 20)), int(0.02 * sr)
        left[d:] += caller[: n - d] * g
        right[d:] += agent[: n - d] * g
    path = tmp_path / "aws49.wav"
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="PCM_16")
    return load_audio(path)


@pytest.mark.parametrize("echo_db", [None, -30.0], ids=["clean", "echo-30dB"])
def test_aws_call_49_stereo_activity_against_its_tracks(tmp_path, aws49_reference, echo_db):
    """Silero alone kept 0.76 of the caller's speech here (DER 0.13 at collar 0.25)."""
    reference, duration = aws49_reference
    diar = diarize(_stereo(tmp_path, echo_db))
    hyp = [Turn(t.start, t.end, "agent" if t.speaker == "ch0" else "customer") for t in diar.turns]
    roles = role_accuracy(reference, hyp, duration)
    d25 = der(reference, hyp, 0.25)
    print(f"AWS 49 stereo, echo {echo_db}: {roles}, DER@0.25 {d25}")
    # measured (2026-12-01) clean: customer / agent recall 0.972 / 1.000, DER@0.25 0.019, confusion 0.000;
    # echo at -30 dB: 0.927 / 0.998, DER@0.25 0.042, confusion 0.007. Floors 0.03 from those.
    customer, agent, der_max = (0.94, 0.97, 0.05) if echo_db is None else (0.897, 0.968, 0.072)
    assert roles["customer_recall"] > customer and roles["agent_recall"] > agent
    assert d25["der"] < der_max and d25["confusion"] < 0.01
