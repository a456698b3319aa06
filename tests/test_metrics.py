"""Conversation metrics on constructed speech-activity timelines with known answers."""

from __future__ import annotations

import pytest

from qa.asr import Word
from qa.metrics import (
    ConversationMetrics, Interruption, conversation_metrics, intersect_total, merge_intervals, subtract_intervals,
)
from qa.transcript import Utterance


def act(*turns):
    """Turns as (role, start, end); the speaker id is the role."""
    return [(r, r, s, e) for r, s, e in turns]


def utt(idx, role, start, end, n_words):
    words = [Word(start + i * 0.1, start + i * 0.1 + 0.05, f"w{i}", 0.9) for i in range(n_words)]
    return Utterance(idx, role, role, start, end, " ".join(w.text for w in words), 0.9, words)


# A clean call: agent 0-10, customer 11-21, agent 23-33 (agent latency 2), 5 s silence,
# customer 38-40, agent 40.5-45 (agent latency 0.5). Duration 50.
CLEAN = act(("agent", 0, 10), ("customer", 11, 21), ("agent", 23, 33), ("customer", 38, 40), ("agent", 40.5, 45))


def test_clean_call_every_metric():
    utts = [utt(0, "agent", 0, 10, 20), utt(1, "customer", 11, 21, 30), utt(2, "agent", 23, 33, 20),
            utt(3, "customer", 38, 40, 6), utt(4, "agent", 40.5, 45, 5)]
    m = conversation_metrics(CLEAN, utts, 50.0)
    assert m.duration_s == 50.0
    assert m.agent_talk_s == pytest.approx(24.5)
    assert m.customer_talk_s == pytest.approx(12.0)
    assert m.talk_ratio_agent == pytest.approx(24.5 / 36.5, abs=1e-3)
    assert m.talk_ratio_customer == pytest.approx(12 / 36.5, abs=1e-3)
    assert m.overtalk_s == 0.0
    assert m.interruptions == [] and m.interruptions_by_agent == 0 and m.interruptions_by_customer == 0
    # gaps 1, 2, 5, 0.5: longest 5; only 2 and 5 reach the 2 s dead-air threshold
    assert m.dead_air_longest_s == 5.0
    assert m.dead_air_total_s == 7.0
    assert m.dead_air_count == 2
    assert m.silence_ratio == pytest.approx(7 / 50)
    assert m.agent_wpm == pytest.approx(45 / (24.5 / 60), abs=0.1)
    assert m.customer_wpm == pytest.approx(36 / (12 / 60), abs=0.1)
    assert m.agent_response_latency_mean_s == pytest.approx((2 + 0.5) / 2)
    assert m.agent_response_latency_max_s == 2.0
    assert m.longest_monologue_agent_s == 10.0
    assert m.longest_monologue_customer_s == 10.0
    assert m.agent_turns == 3 and m.customer_turns == 2
    assert m.hold_count == 0 and m.hold_total_s == 0.0


@pytest.mark.parametrize(
    "turns, expected",
    [
        # customer cuts in 2 s into the agent's turn, 1.5 s of overlap, then goes on alone
        (act(("agent", 0, 5), ("customer", 3.5, 8)), [Interruption("customer", "agent", 3.5, 1.5)]),
        # agent cuts in on the customer, 0.8 s overlap
        (act(("customer", 0, 6), ("agent", 5.2, 9)), [Interruption("agent", "customer", 5.2, 0.8)]),
        # overlap only 0.3 s: below min_overlap_s (0.5), a smooth hand-over
        (act(("agent", 0, 5), ("customer", 4.7, 8)), []),
        # back-channel "evet" of 0.6 s inside the agent's turn, fully overlapping: not an interruption
        (act(("agent", 0, 10), ("customer", 4, 4.6)), []),
        # simultaneous start (the other had started only 0.2 s before): not an interruption
        (act(("agent", 0, 5), ("customer", 0.2, 4)), []),
        # two interruptions by the agent
        (act(("customer", 0, 6), ("agent", 4, 8), ("customer", 9, 15), ("agent", 13, 16)),
         [Interruption("agent", "customer", 4, 2), Interruption("agent", "customer", 13, 2)]),
    ],
)
def test_interruptions(turns, expected):
    m = conversation_metrics(turns, [], 20.0)
    assert m.interruptions == expected
    assert m.interruptions_by_agent == sum(i.by == "agent" for i in expected)
    assert m.interruptions_by_customer == sum(i.by == "customer" for i in expected)


@pytest.mark.parametrize(
    "turns, overtalk",
    [
        (act(("agent", 0, 5), ("customer", 3.5, 8)), 1.5),
        (act(("agent", 0, 10), ("customer", 4, 4.6), ("customer", 6, 7)), 1.6),  # back-channels count as overtalk
        (CLEAN, 0.0),
    ],
)
def test_overtalk(turns, overtalk):
    assert conversation_metrics(turns, [], 50.0).overtalk_s == pytest.approx(overtalk)


def test_short_pauses_are_merged_before_anything_else():
    # agent 0-4 and 4.2-8: one turn (0.2 s < 0.3 s merge gap); customer 2-3 would otherwise
    # look like an interruption of a turn that "started" at 4.2
    turns = act(("agent", 0, 4), ("agent", 4.2, 8), ("customer", 10, 12))
    m = conversation_metrics(turns, [], 12.0)
    assert m.agent_turns == 1
    assert m.agent_talk_s == pytest.approx(8.0)
    assert m.longest_monologue_agent_s == 8.0
    assert m.dead_air_longest_s == 2.0


def test_hold_is_not_dead_air_nor_talk_and_breaks_latency_and_monologue():
    # hold music heard as agent "speech" 12-30; silence inside the hold window too
    turns = act(("agent", 0, 10), ("agent", 12, 30), ("customer", 31, 34), ("agent", 35, 40))
    m = conversation_metrics(turns, [], 40.0, holds=[(10.5, 30.0)])
    assert m.hold_count == 1 and m.hold_total_s == pytest.approx(19.5)
    assert m.agent_talk_s == pytest.approx(15.0)  # music cut out
    assert m.dead_air_longest_s == 1.0  # 30-31 and 34-35; 10-10.5 is 0.5
    assert m.dead_air_total_s == 0.0
    assert m.agent_response_latency_mean_s == 1.0
    assert m.longest_monologue_agent_s == 10.0


def test_hold_objects_with_start_end_attributes():
    from qa.holds import Hold

    h = Hold(10.0, 20.0, True, True, True, "silence")
    m = conversation_metrics(act(("agent", 0, 10), ("agent", 20, 25)), [], 25.0, holds=[h])
    assert m.hold_count == 1 and m.dead_air_longest_s == 0.0 and m.dead_air_count == 0


def test_latency_needs_the_agent_to_speak_next_and_not_overlap():
    turns = act(
        ("customer", 0, 3), ("customer", 4, 6),  # the customer goes on after 3: no sample
        ("agent", 7.5, 12),                      # 1.5 s after the customer's end at 6
        ("customer", 10, 13),                    # cuts in; the agent is silent at 13
        ("agent", 13.5, 16),                     # 0.5 s
        ("customer", 15, 15.8),                  # back-channel ending while the agent talks: no sample
        ("customer", 17, 19),                    # nobody answers: no sample
    )
    m = conversation_metrics(turns, [], 20.0)
    assert m.agent_response_latency_max_s == 1.5
    assert m.agent_response_latency_mean_s == pytest.approx(1.0)


def test_monologue_survives_back_channels_and_pauses_but_not_a_real_reply():
    turns = act(
        ("agent", 0, 8), ("customer", 8.2, 8.7),     # back-channel between agent sentences
        ("agent", 9, 15), ("agent", 16.5, 20),       # 1.5 s pause < 2 s monologue gap
        ("customer", 21, 25),                        # a reply ends the run
        ("agent", 26, 30),
    )
    m = conversation_metrics(turns, [], 30.0)
    assert m.longest_monologue_agent_s == 20.0
    assert m.longest_monologue_customer_s == 4.0


@pytest.mark.parametrize(
    "turns, utts, none_fields",
    [
        # no customer speech at all
        (act(("agent", 0, 10)), [utt(0, "agent", 0, 10, 10)],
         {"customer_wpm", "agent_response_latency_mean_s", "agent_response_latency_max_s",
          "longest_monologue_customer_s"}),
        # speech but no words
        (CLEAN, [], {"agent_wpm", "customer_wpm"}),
        # nothing at all
        ([], [], {"talk_ratio_agent", "talk_ratio_customer", "dead_air_total_s", "dead_air_longest_s",
                  "silence_ratio", "agent_wpm", "customer_wpm", "agent_response_latency_mean_s",
                  "agent_response_latency_max_s", "longest_monologue_agent_s", "longest_monologue_customer_s"}),
    ],
)
def test_uncomputable_metrics_are_none_not_zero(turns, utts, none_fields):
    d = conversation_metrics(turns, utts, 30.0).as_dict()
    assert {k for k, v in d.items() if v is None} == none_fields


def test_unknown_role_speech_fills_silence_but_is_nobody_s_talk():
    turns = act(("agent", 0, 5), ("unknown", 5.5, 12), ("customer", 12.5, 15))
    m = conversation_metrics(turns, [], 15.0)
    assert m.dead_air_longest_s == 0.5
    assert m.agent_talk_s == 5.0 and m.customer_talk_s == 2.5


def test_as_dict_is_flat_numeric_with_stable_names():
    d = conversation_metrics(CLEAN, [], 50.0).as_dict()
    assert "interruptions" not in d
    assert all(v is None or isinstance(v, float) for v in d.values())
    expected = set(ConversationMetrics.__dataclass_fields__) - {"interruptions"}
    assert set(d) == expected
    assert all(k == k.lower() and " " not in k for k in d)


def test_interval_helpers():
    assert merge_intervals([(5, 6), (0, 2), (1, 3), (3.2, 4)], gap=0.3) == [(0, 4), (5, 6)]
    assert subtract_intervals([(0, 10)], [(2, 3), (5, 12)]) == [(0, 2), (3, 5)]
    assert intersect_total([(0, 5), (6, 8)], [(4, 7)]) == pytest.approx(2.0)


# ---------------------------------------------------------------- acoustic cues (qa.acoustics)


def _tone(freq: float, seconds: float, sr: int = 16000, amp: float = 0.1):
    import numpy as np

    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype("float32")


def test_acoustic_cues_known_tone_and_raised_share():
    import numpy as np

    from qa.acoustics import acoustic_cues

    sr = 16000
    # 16 s at one level, then 4 s at +12 dB: a fifth of the frames are "raised"
    x = np.concatenate([_tone(220, 16, amp=0.05), _tone(220, 4, amp=0.05 * 10 ** (12 / 20))])
    c = acoustic_cues(x, sr, [(0.0, 20.0)])
    assert c.pitch_median_hz == pytest.approx(220, rel=0.02)
    assert c.pitch_std_st < 0.2
    assert c.raised_share == pytest.approx(0.2, abs=0.02)
    assert c.level_db_median == pytest.approx(20 * np.log10(0.05 / np.sqrt(2)), abs=0.5)
    # only the turns are analysed, and max_seconds caps them
    assert acoustic_cues(x, sr, [(0.0, 20.0)], max_seconds=10).raised_share == 0.0


def test_acoustic_cues_none_with_too_little_speech():
    from qa.acoustics import acoustic_cues

    c = acoustic_cues(_tone(200, 10), 16000, [(0.0, 2.0)])
    assert c.speech_s == pytest.approx(2.0, abs=0.1)
    assert all(v is None for k, v in c.as_dict().items() if k != "speech_s")


def test_acoustic_cues_on_a_sample_call_angry_customer_is_louder():
    """tr_angry_03 (mono): the customer was rendered +5 dB louder and with a higher pitch setting
    than his voice's default; the agent is the female MBROLA voice (higher pitch)."""
    import json

    from qa.acoustics import acoustic_cues
    from qa.audio import load_audio
    from tests.conftest import SAMPLES

    ref = json.loads((SAMPLES / "reference" / "tr_angry_03.json").read_text(encoding="utf-8"))
    audio = load_audio(SAMPLES / "tr_angry_03.mp3")
    cues = {
        role: acoustic_cues(audio.mono(), audio.sample_rate,
                            [(t["start_s"], t["end_s"]) for t in ref["turns"] if t["role"] == role])
        for role in ("agent", "customer")
    }
    assert cues["customer"].level_db_median > cues["agent"].level_db_median + 1.0
    assert cues["agent"].pitch_median_hz > 1.3 * cues["customer"].pitch_median_hz
