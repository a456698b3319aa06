"""Names heard wrong still count for name items, and ordinary words never do (cases from the sample
calls' real transcripts, then the rubric item end to end)."""

from __future__ import annotations

import pytest

from qa.rubric.names import NAME_THRESHOLD, is_name_phrase, name_similarity, sound_key
from tests.conftest import REPO


@pytest.mark.parametrize(
    "name, heard, language",
    [
        ("Ayşe Demir", "ben denayış edemiyor size nasıl", "tr"),  # tr_model_01, no biasing
        ("Elif Şahin", "hoş geldiniz denelif Şahin, size", "tr"),  # tr_angry_03
        ("Can Öztürk", "ben can özdürk, nasıl", "tr"),  # tr_confused_04
        ("Anadolu Telekom", "Anadolu Telekomu arıyorum", "tr"),
        ("Ege Sigorta", "Ege sigortayı aradığınız için", "tr"),
        ("Northwind Energy", "thank you for calling North Wind Energy", "en"),
        ("Northwind Energy", "calling Nortwind Enerji today", "en"),
    ],
)
def test_names_heard_wrong_match(name, heard, language):
    sim, span = name_similarity(name, heard, language)
    assert sim >= NAME_THRESHOLD, (name, heard, sim)
    assert span[1] > span[0]


@pytest.mark.parametrize(
    "name, heard, language",
    [
        ("Ege Sigorta", "kasko sigorta poliçem", "tr"),  # part of the name is not the name
        ("Derya", "çok teşekkür ederim.", "tr"),  # 78, the closest non-name in the samples
        ("Burak Kaya", "Bu ayki saturan yüksek", "tr"),
        ("Emma Clarke", "what is your address?", "en"),
        ("Tom Harris", "Could you give me", "en"),
        ("Elif", "Çelik kapı", "tr"),
        ("Can", "can you hear me", "en"),  # under 4 letters: never by sound
        ("Jake", "sure, you bet", "en"),
        ("Anadolu Telekom", "nasıl yardımcı olabilirim?", "tr"),
    ],
)
def test_ordinary_words_do_not_match_a_name(name, heard, language):
    sim, _ = name_similarity(name, heard, language)
    assert sim < NAME_THRESHOLD, (name, heard, sim)


def test_sound_key_merges_letters_that_sound_alike():
    assert sound_key("North Wind", "en") == sound_key("Northvind", "en")
    assert sound_key("Çağrı", "tr") == sound_key("cagri", "tr")
    assert sound_key("Philips", "en") == sound_key("Filips", "en")


def test_only_bare_name_placeholders_match_by_sound():
    assert is_name_phrase("{company}") and is_name_phrase(" {agent_name} ")
    assert not is_name_phrase("this is {agent_first_name}") and not is_name_phrase("{customer}")


def test_greet_company_passes_on_a_misheard_company_and_says_why():
    from qa.rubric.engine import score_call
    from qa.rubric.schema import load_rubric
    from qa.callfacts import rubric_context
    from qa.transcript import Utterance

    rubric = load_rubric(REPO / "scoring_rubrics" / "en_inbound.yaml")
    ctx = rubric_context(duration_s=60.0, language="en", direction="inbound", queue=None, agent_name="Emma Clarke",
                         metrics={}, events=[], sentiment=None, embedding_model="bundled:e5-small")
    heard = [Utterance(0, "ch0", "agent", 1.0, 4.0, "Good morning, Nord vind energy, Emma speaking.", 0.9)]
    items, _ = score_call(rubric, heard, ctx)
    greet = next(r for r in items if r.item_id == "greet_company")
    assert greet.outcome == "pass" and greet.method == "name-sound" and "Nord vind energy" in greet.reason
    other = [Utterance(0, "ch0", "agent", 1.0, 4.0, "Good morning, how can I help?", 0.9)]
    items, _ = score_call(rubric, other, ctx)
    assert next(r for r in items if r.item_id == "greet_company").outcome == "fail"
