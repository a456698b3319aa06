"""Hallucination guards: credit phrases and repetition loops, table-driven."""

import pytest

from qa.asr import Word, collapse_loops, is_hallucination


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Altyazı M.K.", True),
        ("altyazı", True),
        ("Thank you for watching!", True),
        ("Abone olmayı unutmayın.", True),
        ("İzlediğiniz için teşekkürler.", True),
        ("Teşekkürler, iyi günler.", False),
        ("Thank you for calling Northwind Energy.", False),
        ("", False),
    ],
)
def test_hallucination_phrases(text, expected):
    assert is_hallucination(text) is expected


def words(text: str) -> list[Word]:
    return [Word(i * 0.3, i * 0.3 + 0.25, t, 0.9) for i, t in enumerate(text.split())]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("geli geli geli geli geli geli geli geli", "geli geli"),
        ("kart numaram dört bir bir bir iki", "kart numaram dört bir bir bir iki"),  # real digits survive
        ("evet evet evet", "evet evet evet"),
        ("a b a b a b a b a b sonra", "a b a b sonra"),
        ("bu bir test bu bir test bu bir test bu bir test bu bir test tamam", "bu bir test bu bir test tamam"),
    ],
)
def test_collapse_loops(text, expected):
    assert " ".join(w.text for w in collapse_loops(words(text))) == expected
