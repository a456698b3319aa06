"""Customer profile tagging: the catalogue, phrase/metric/sentiment cues, evaluation, and a real sample call (slow)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from qa.profiles import DATA, evaluate_profiles, load_profiles, tag_profiles
from qa.transcript import Utterance
from tests.conftest import SAMPLES

IDS = {"new", "hasty", "talkative", "angry", "negative", "insistent", "confused", "sceptical", "know-it-all",
       "positive", "loyal", "poor-communicator"}


@dataclass
class Sent:
    label: str
    polarity: float


def dialogue(*turns: tuple[str, str]) -> list[Utterance]:
    out, t = [], 0.0
    for role, text in turns:
        out.append(Utterance(len(out), role, role, t, t + 3, text, 0.9))
        t += 3.5
    return out


def test_catalogue_is_complete_in_both_languages():
    profiles = load_profiles()
    assert set(profiles) == IDS
    assert DATA.is_file() and DATA.parent.parent.name == "qa"
    for p in profiles.values():
        assert p.name("tr") and p.name("en") and p.name("tr") != p.name("en")
        assert len(p.strategy_for("tr")) > 80 and len(p.strategy_for("en")) > 80
        assert 0 < p.phrase_weight < 1
        for table in (p.patterns, p.repeated_patterns):
            for pats in table.values():
                for pat in pats:
                    re.compile(pat)
        if p.id != "poor-communicator":
            assert p.phrases["tr"] and p.phrases["en"]


# (language, utterances, metrics, expected profile among the tags)
CASES = [
    ("tr", dialogue(("agent", "iyi günler size nasıl yardımcı olabilirim"),
                    ("customer", "merhaba on yıldır sizin müşterinizim ilk defa böyle bir sorun yaşıyorum")), {}, "loyal"),
    ("tr", dialogue(("customer", "yeni müşteriyim ve ilk faturam çok yüksek geldi")), {}, "new"),
    ("tr", dialogue(("customer", "çabuk olun lütfen acelem var"), ("agent", "tabii"),
                    ("customer", "kısa tutar mısınız toplantıya giriyorum")), {}, "hasty"),
    ("tr", dialogue(("customer", "bir daha söyler misiniz anlamadım"), ("agent", "tabii"),
                    ("customer", "nasıl yani kafam karıştı")), {}, "confused"),
    ("tr", dialogue(("customer", "ben mühendisim bu işleri bilirim")), {}, "know-it-all"),
    ("tr", dialogue(("customer", "bu ne biçim iş rezalet"), ("agent", "haklısınız"),
                    ("customer", "yeter artık şikayet edeceğim")), {}, "angry"),
    ("tr", dialogue(("customer", "emin misiniz buna inanmıyorum")), {}, "sceptical"),
    ("tr", dialogue(("customer", "paramı geri istiyorum"), ("agent", "talep açıyorum"),
                    ("customer", "tekrar söylüyorum paramı hemen istiyorum")), {}, "insistent"),
    ("en", dialogue(("customer", "I'm in a hurry, make it quick please")), {}, "hasty"),
    ("en", dialogue(("customer", "I've been a customer for twelve years and this never happened")), {}, "loyal"),
    ("en", dialogue(("customer", "Are you sure? Can you put that in writing?")), {}, "sceptical"),
    ("en", dialogue(("customer", "This is ridiculous"), ("customer", "I want to speak to a manager")), {}, "angry"),
    ("en", dialogue(("agent", "sorry I can't hear you, could you speak up"), ("customer", "uh"),
                    ("agent", "sorry I didn't catch that")), {}, "poor-communicator"),
    # metrics only: the customer holds 70 % of the talk and a 45 s monologue
    ("en", dialogue(("customer", "well let me see")), {"talk_ratio_customer": 0.7, "longest_monologue_customer_s": 45.0},
     "talkative"),
]


@pytest.mark.parametrize("language, utts, metrics, expected", CASES)
def test_profile_cues(language, utts, metrics, expected):
    tags = {t.profile: t for t in tag_profiles(metrics, utts, language)}
    assert expected in tags
    tag = tags[expected]
    assert 0.5 <= tag.confidence <= 1
    assert tag.reasons and len(tag.reasons) == len(tag.evidence)
    assert tag.strategy == load_profiles()[expected].strategy_for(language)
    assert tag.name == load_profiles()[expected].name(language)


def test_a_plain_call_gets_no_profile():
    utts = dialogue(("agent", "iyi günler size nasıl yardımcı olabilirim"),
                    ("customer", "faturamı öğrenmek istiyorum"),
                    ("agent", "faturanız iki yüz lira"),
                    ("customer", "tamam teşekkürler"))
    metrics = {"talk_ratio_customer": 0.4, "customer_wpm": 130.0, "agent_wpm": 125.0, "interruptions_by_customer": 0}
    assert tag_profiles(metrics, utts, "tr") == []


def test_one_weak_cue_is_not_enough():
    # a single polite thanks, or a single fast-speech signal, does not make a profile
    utts = dialogue(("customer", "çok teşekkür ederim"))
    assert tag_profiles({"customer_wpm": 160.0, "agent_wpm": 125.0}, utts, "tr") == []


def test_customer_phrases_only_count_from_the_customer():
    utts = dialogue(("agent", "çabuk olun acelem var"), ("customer", "peki"))
    assert "hasty" not in {t.profile for t in tag_profiles({}, utts, "tr")}


def test_one_word_answers_do_not_match_longer_phrases():
    # "Sure." is inside "are you sure" and "i'm not sure i understand", but says neither
    utts = dialogue(("agent", "can I have your date of birth"), ("customer", "Sure."), ("customer", "Really."))
    assert tag_profiles({}, utts, "en", min_confidence=0.0) == []


def test_negated_phrase_does_not_count():
    utts = dialogue(("customer", "I'm not in a hurry, take your time"))
    assert "hasty" not in {t.profile for t in tag_profiles({}, utts, "en")}


def test_sentiment_cues_and_metric_cues():
    utts = dialogue(("customer", "faturam yine yüksek"), ("agent", "bakıyorum"), ("customer", "her ay aynı şey"),
                    ("agent", "anlıyorum"), ("customer", "artık bıktım"), ("agent", "çözeceğim"),
                    ("customer", "peki bakalım"))
    sents = [Sent("negative", -0.6), Sent("neutral", 0), Sent("negative", -0.8), Sent("neutral", 0),
             Sent("negative", -0.9), Sent("positive", 0.5), Sent("neutral", 0.0)]
    metrics = {"interruptions_by_customer": 2, "customer_wpm": 170.0, "agent_wpm": 120.0}
    tags = {t.profile: t for t in tag_profiles(metrics, utts, "tr", sents)}
    assert {"negative", "angry"} <= set(tags)
    assert any("3 of 4 customer utterances are negative" in r for r in tags["negative"].reasons)
    assert any("interrupted" in r for r in tags["angry"].reasons)
    # without sentiment the same call has too little evidence for "negative"
    assert "negative" not in {t.profile for t in tag_profiles(metrics, utts, "tr")}


def test_reasons_do_not_quote_the_customer():
    utts = dialogue(("customer", "Ahmet Yılmaz, on yıldır sizin müşterinizim, sıfır beş yüz otuz iki"))
    tag = next(t for t in tag_profiles({}, utts, "tr") if t.profile == "loyal")
    assert not any("Ahmet" in r or "sıfır" in r for r in tag.reasons)
    assert tag.evidence[0]["idx"] == 0 and "Ahmet" in tag.evidence[0]["text"]


def test_evaluate_profiles_known_counts():
    reference = {"a": ["angry", "hasty"], "b": ["loyal"], "c": []}
    predicted = {"a": ["angry", "sceptical"], "b": ["loyal", "positive"]}  # "c" missing: nothing tagged
    ev = evaluate_profiles(predicted, reference)
    assert ev["calls"] == 3
    assert ev["per_profile"]["angry"] == {"tp": 1, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert ev["per_profile"]["hasty"]["recall"] == 0.0 and ev["per_profile"]["hasty"]["precision"] is None
    assert ev["per_profile"]["sceptical"]["precision"] == 0.0
    assert ev["micro"]["tp"] == 2 and ev["micro"]["fp"] == 2 and ev["micro"]["fn"] == 1
    assert ev["micro"]["precision"] == 0.5 and ev["micro"]["recall"] == pytest.approx(0.667, abs=1e-3)


@pytest.mark.slow
def test_profiles_on_a_real_sample_call(settings):
    """tr_hasty_06 through the whole pipeline: the hasty know-it-all customer is recognised."""
    from qa.holds import detect_holds
    from qa.metrics import conversation_metrics
    from qa.pipeline import process_call

    ref = json.loads((SAMPLES / "reference" / "tr_hasty_06.json").read_text(encoding="utf-8"))
    r = process_call(SAMPLES / "tr_hasty_06.wav", settings)
    holds = detect_holds(r.activity, r.utterances, r.duration_s, r.language)
    metrics = conversation_metrics(r.activity, r.utterances, r.duration_s, holds).as_dict()
    tags = [t.profile for t in tag_profiles(metrics, r.utterances, r.language)]
    assert set(ref["customer_profiles"]) <= set(tags)
