"""Hold detection: constructed timelines with real phrases (fast), and the real pipeline on sample calls (slow)."""

from __future__ import annotations

import json

import pytest

from qa.asr import Word
from qa.holds import Hold, busy_intervals, detect_holds, match_holds
from qa.transcript import Utterance
from tests.conftest import SAMPLES


def utt(idx, role, start, end, text):
    toks = text.split()
    step = (end - start) / len(toks)
    words = [Word(start + i * step, start + (i + 1) * step - 0.02, t, 0.9) for i, t in enumerate(toks)]
    return Utterance(idx, role, role, start, end, text, 0.9, words)


def call(before: list[tuple[str, str]], after: list[tuple[str, str]], gap: float = 12.0, music: bool = False):
    """Utterances (role, text) of 2 s each with 0.5 s pauses, then `gap` s without words, then `after`."""
    utts, t = [], 0.0
    for role, text in before:
        utts.append(utt(len(utts), role, t, t + 2, text))
        t += 2.5
    gap_start = t - 0.5
    t = gap_start + gap
    for role, text in after:
        utts.append(utt(len(utts), role, t, t + 2, text))
        t += 2.5
    activity = [(u.role, u.role, u.start, u.end) for u in utts]
    if music:  # hold music heard by VAD as agent "speech", no ASR words in it
        activity.append(("agent", "agent", gap_start + 0.4, gap_start + gap - 0.8))
    return activity, utts, t, (gap_start, gap_start + gap)


CASES = [
    # (language, before, after, gap, music, expected (asked_permission, thanked_after) or None)
    ("tr", [("customer", "internetim çok yavaş"), ("agent", "sizi kısa bir süre beklemeye alabilir miyim"),
            ("customer", "tabii bekliyorum"), ("agent", "teşekkürler hemen dönüyorum")],
     [("agent", "beklediğiniz için teşekkür ederim ahmet bey"), ("customer", "peki")], 10.0, False, (True, True)),
    ("tr", [("customer", "ben hiçbir hizmet açmadım"), ("agent", "bekleyin")],
     [("agent", "evet baktım bu hizmet geçen ay açılmış")], 12.0, False, (False, False)),
    ("tr", [("agent", "poliçenize bakarken sizi kısa bir süre beklemeye alabilir miyim"),
            ("customer", "tamam evladım bekliyorum"), ("agent", "tamam hemen dönüyorum")],
     [("agent", "evet hatice hanım dosyanızı açtım")], 6.0, True, (True, False)),
    ("en", [("agent", "let me check may i put you on hold for a minute"), ("customer", "yes that's fine"),
            ("agent", "thank you i'll be right back")],
     [("agent", "thank you for waiting david the bill used an estimate")], 15.0, True, (True, True)),
    ("en", [("customer", "the card number is that"), ("agent", "hang on")],
     [("agent", "okay the payment went through")], 12.0, False, (False, False)),
    # a long unannounced silence mid-call is a hold
    ("en", [("agent", "what is your account number"), ("customer", "it is two one four")],
     [("agent", "right so the balance is fine")], 25.0, False, (False, False)),
    # the customer looking for her ID card: 8 s, nothing announced by the agent -> not a hold
    ("tr", [("agent", "kimlik numaranızı alabilir miyim"), ("customer", "bir dakika evladım gözlüğümü bulayım")],
     [("customer", "buldum dört beş sekiz")], 8.0, False, None),
    # a short pause after an announcement is not a hold
    ("en", [("agent", "please hold"), ("customer", "okay")], [("agent", "right i'm back")], 3.0, False, None),
]


@pytest.mark.parametrize("language, before, after, gap, music, expected", CASES)
def test_detect_holds_constructed(language, before, after, gap, music, expected):
    activity, utts, duration, (gs, ge) = call(before, after, gap, music)
    holds = detect_holds(activity, utts, duration, language)
    if expected is None:
        assert holds == []
        return
    assert len(holds) == 1
    h = holds[0]
    assert (h.asked_permission, h.thanked_after) == expected
    assert h.start_s == pytest.approx(gs, abs=0.05) and h.end_s == pytest.approx(ge, abs=0.05)
    assert h.kind == ("wordless" if music else "silence")
    assert h.announced == (gap < 20)
    if h.announced:
        assert h.ask_evidence["idx"] in {u.idx for u in utts if u.role == "agent"}
    if h.thanked_after:
        assert h.thank_evidence["start"] >= ge - 0.5


def test_customer_saying_wait_is_not_an_announcement():
    activity, utts, duration, _ = call(
        [("agent", "kimlik numaranızı alabilir miyim"), ("customer", "bir dakika bekleyin bakayım")],
        [("customer", "buldum")], 9.0)
    assert detect_holds(activity, utts, duration, "tr") == []


def test_a_bare_thanks_is_not_thanking_for_the_wait():
    # "thanks" alone after the hold must not count as "thanks for holding" (short-utterance guard)
    activity, utts, duration, _ = call([("agent", "may i put you on hold"), ("customer", "sure")],
                                       [("agent", "thanks"), ("customer", "okay")], 12.0)
    (h,) = detect_holds(activity, utts, duration, "en")
    assert h.asked_permission and not h.thanked_after


def test_word_less_speech_turn_is_not_busy():
    activity, utts, _, (gs, ge) = call([("agent", "please hold")], [("agent", "thanks for holding")], 12.0, True)
    busy = busy_intervals(activity, utts)
    assert all(e <= gs + 0.01 or s >= ge - 0.01 for s, e in busy)


def test_match_holds_counts_found_missed_false():
    ref = [(10, 20), (50, 60)]
    assert match_holds([(9, 21), (30, 40)], ref) == {"found": 1, "missed": 1, "false": 1}
    assert match_holds([(12, 14)], [(10, 20)]) == {"found": 0, "missed": 1, "false": 1}


@pytest.mark.slow
@pytest.mark.parametrize("call_id", ["tr_poor_02", "en_good_07"])
def test_holds_on_sample_calls(settings, call_id):
    from qa.pipeline import process_call

    ref = json.loads((SAMPLES / "reference" / f"{call_id}.json").read_text(encoding="utf-8"))
    audio = next(p for p in SAMPLES.glob(f"{call_id}.*") if p.suffix != ".json")
    r = process_call(audio, settings)
    holds = detect_holds(r.activity, r.utterances, r.duration_s, r.language)
    m = match_holds([(h.start_s, h.end_s) for h in holds], [(h["start_s"], h["end_s"]) for h in ref["holds"]])
    assert m == {"found": len(ref["holds"]), "missed": 0, "false": 0}
    assert isinstance(holds[0], Hold)
    assert holds[0].asked_permission == (ref["labels"]["hold_permission"] == "pass")
    assert holds[0].thanked_after == (ref["labels"]["hold_thanks"] == "pass")
