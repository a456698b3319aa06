"""Never lose what was said: the ASR gate's extra regions only add words, every word gets a role,
and the measures that check it (lost segments against bare whisper, name words heard, where
reference speech went) on constructed cases with known answers, then on real audio."""

from __future__ import annotations

import numpy as np
import pytest

from qa.asr import Word, additions, transcribe, uncovered
from qa.audio import load_audio
from qa.diarization import Diarization, Turn
from qa.diarization.embedding import soft_votes
from qa.diarization.levels import extend_edges
from qa.evaluation import lost_segments, name_hits, role_parts
from qa.transcript import build_utterances, label_words
from qa.vad import Region
from tests.conftest import aws_tracks, in_pairs


def W(start, end, text="w", channel=None):
    return Word(start, end, text, 0.9, channel)


@pytest.mark.parametrize(
    "name, speech, gate, want",
    [
        ("inside the gate: nothing to add", [(1.0, 2.0)], [(0.5, 3.0)], []),
        ("before the gate", [(0.0, 1.3)], [(3.5, 9.5)], [(0.0, 1.3)]),
        ("sticks out on both sides", [(1.0, 5.0)], [(2.0, 3.0)], [(1.0, 2.0), (3.0, 5.0)]),
        ("a sliver under 0.2 s is dropped", [(1.0, 3.1)], [(0.0, 3.0)], []),
        ("clipped to the signal", [(9.0, 12.0)], [], [(9.0, 10.0)]),
        ("two gate regions cut one extra", [(0.0, 10.0)], [(1.0, 2.0), (5.0, 6.0)], [(0.0, 1.0), (2.0, 5.0), (6.0, 10.0)]),
    ],
)
def test_uncovered_parts_of_extra_regions(name, speech, gate, want):
    got = uncovered([Region(*s) for s in speech], [Region(*g) for g in gate], 10.0)
    assert [(round(r.start, 3), round(r.end, 3)) for r in got] == want, name


def test_second_pass_words_only_add_where_the_first_pass_has_none():
    base = [W(3.6, 4.0, "Thank"), W(4.0, 4.3, "you")]
    heard = [
        W(0.3, 0.8, "Hello"),  # in the extra span, no base word: kept
        W(3.55, 4.05, "Thank"),  # the same word heard again: covered by a base word
        W(6.0, 6.4, "far"),  # outside every extra span
        W(1.25, 1.5, "edge"),  # midpoint within the 0.1 s slack of the span's end
    ]
    got = additions(base, heard, [(0.0, 1.3)])
    assert [w.text for w in got] == ["Hello", "edge"]


def test_extra_regions_never_remove_words_on_real_audio(asr_pair):
    """The issue's case: a noise region joined ahead of a call's greeting. Whatever the extra
    regions are, every word the gate alone gives is still there, with the same times. (The four
    decodes are independent: they run two at a time on `asr_pair`.)"""
    agent, _ = aws_tracks(40)
    rng = np.random.default_rng(0)
    opening = load_audio(agent).read_mono(0, 12)
    noise = (rng.standard_normal(int(1.3 * 16000)) * 0.03).astype(np.float32)
    signal = np.concatenate([noise, np.zeros(24000, np.float32), opening])
    cases = [[Region(0.0, 1.3)], [Region(0.0, 1.3), Region(2.0, 6.0)], [Region(0.0, len(signal) / 16000)]]
    alone, *joins = in_pairs(lambda speech: transcribe(asr_pair, signal, "en", speech=speech), [None, *cases])
    assert len(alone.words) >= 8 and "calling" in alone.text.lower()
    for speech, joined in zip(cases, joins):
        kept = [(w.text, w.start, w.end) for w in joined.words]
        assert all(k in kept for k in [(w.text, w.start, w.end) for w in alone.words]), speech


def test_words_between_turns_take_a_role_and_do_not_split_a_sentence():
    diar = Diarization([Turn(0.0, 3.0, "S0"), Turn(6.0, 8.0, "S1"), Turn(8.5, 12.0, "S0")], "embedding-spectral",
                       ["S0", "S1"])
    words = [W(2.0, 2.5, "sorry"), W(2.6, 2.9, "for"), W(3.6, 4.2, "inconvenience."),  # 0.6 s past the turn
             W(4.4, 4.7, "Can"), W(4.8, 5.0, "you"), W(5.0, 5.4, "hear?"),  # the gap, next to S0's words
             W(6.2, 6.8, "yes"), W(20.0, 20.5, "lost")]  # nothing near 20 s
    labelled = label_words(words, diar)
    assert [s for _, s in labelled] == ["S0", "S0", "S0", "S0", "S0", "S0", "S1", None]
    utts = build_utterances(labelled, {"S0": "agent", "S1": "customer"})
    assert [u.text for u in utts][0] == "sorry for inconvenience. Can you hear?"
    assert [u.role for u in utts] == ["agent", "customer", "unknown"]


def test_a_word_in_a_gap_between_two_speakers_goes_to_the_nearer_turn():
    diar = Diarization([Turn(0.0, 3.0, "S0"), Turn(5.0, 8.0, "S1")], "embedding-spectral", ["S0", "S1"])
    labelled = label_words([W(1.0, 2.0, "a"), W(4.5, 4.8, "b"), W(5.5, 6.0, "c")], diar)
    assert [s for _, s in labelled] == ["S0", "S1", "S1"]


def test_stereo_words_keep_their_channel():
    diar = Diarization([Turn(0.0, 1.0, "ch0")], "stereo-channels", ["ch0", "ch1"])
    labelled = label_words([W(5.0, 5.5, "x", channel=1)], diar)
    assert labelled[0][1] == "ch1"


@pytest.mark.parametrize(
    "name, bare, words, lost",
    [
        ("all heard", [(0.0, 3.0, "thank you for calling")], [W(0.2, 0.5), W(0.6, 0.9), W(1.0, 1.2), W(1.3, 2.0)], 0),
        ("half heard is enough", [(0.0, 3.0, "thank you for calling")], [W(0.2, 0.5), W(0.6, 0.9)], 0),
        ("one of four heard", [(0.0, 3.0, "thank you for calling")], [W(0.2, 0.5)], 1),
        ("nothing heard", [(3.5, 9.5, "hello this is Ayse speaking")], [W(10.2, 10.5)], 1),
        ("two-word segments are not checked", [(0.0, 1.0, "oh okay")], [], 0),
        ("word times within 0.5 s count", [(2.0, 3.0, "a b c")], [W(1.4, 1.7), W(3.2, 3.4)], 0),
        ("a redaction token stands for its words", [(0.0, 6.0, "my card is 4 5 4 0 1 2")],
         [W(0.0, 0.3), W(0.3, 0.5), W(0.5, 0.7), W(1.0, 4.0, "[CARD]")], 0),
    ],
)
def test_lost_segments_known_answers(name, bare, words, lost):
    assert len(lost_segments(bare, words)) == lost, name


@pytest.mark.parametrize(
    "reference, hypothesis, names, want",
    [
        ("Anadolu Telekom'a hoş geldiniz, ben Ayşe Demir.", "Anadolu Telekom'a hoş geldiniz, ben Ayşe'de miyim?",
         ["Anadolu Telekom", "Ayşe Demir"], (4, 3)),
        ("Thank you for calling Northwind Energy.", "Thank you for calling North Wind Energy.",
         ["Northwind Energy"], (2, 1)),
        ("No names here.", "Northwind", ["Northwind Energy"], (0, 0)),
        ("Emma here, Emma Clarke.", "Emma here.", ["Emma Clarke"], (3, 1)),
    ],
)
def test_name_hits_known_answers(reference, hypothesis, names, want):
    assert name_hits(reference, hypothesis, names, "tr" if "Ayşe" in reference else "en") == want


def test_role_parts_add_up():
    ref = [Turn(0, 10, "agent"), Turn(10, 20, "customer")]
    hyp = [Turn(0, 8, "agent"), Turn(10, 15, "agent"), Turn(15, 20, "customer"), Turn(25, 27, "customer")]
    got = role_parts(ref, hyp, 30.0)
    assert got["right"] == pytest.approx(0.65, abs=0.002)
    assert got["missed"] == pytest.approx(0.10, abs=0.002)
    assert got["swapped"] == pytest.approx(0.25, abs=0.002)
    assert got["both"] == 0.0 and got["false_alarm_s"] == pytest.approx(2.0, abs=0.02)


def test_edges_grow_over_soft_speech_only():
    level = np.full(200, -90.0)
    level[50:100] = -12.0  # loud speech (VAD)
    level[40:50] = -40.0  # soft onset: 28 dB below speech, far above the floor
    level[100:105] = -70.0  # a dip too quiet to be speech
    level[105:120] = -40.0  # ... beyond it, not adjacent
    mask = np.zeros(200, dtype=bool)
    mask[50:100] = True
    got = extend_edges(mask, level, -12.0)
    assert got[40:100].all() and not got[:40].any() and not got[100:].any()
    capped = np.full(200, -30.0)
    capped[:20] = -95.0  # the noise floor (5th percentile)
    assert extend_edges(mask, capped, -12.0, max_frames=10).sum() == 50 + 20


def test_soft_votes_weigh_a_straddling_window_less():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    mid = (a + b) / np.linalg.norm(a + b)
    emb = np.stack([a, a, a, a, b, b, b, b, mid])
    w = soft_votes(emb, np.array([0, 0, 0, 0, 1, 1, 1, 1, 0]), 2)
    assert w[0, 0] > 0.99 and w[4, 1] > 0.99
    assert w[8].max() < 0.9  # a hard label would give it a full vote
    assert np.allclose(w.sum(axis=1), 1.0)
