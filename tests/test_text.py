"""Turkish-aware normalisation, table-driven."""

import pytest

from qa.text import fold, lower, normalize


@pytest.mark.parametrize(
    "text, language, expected",
    [
        ("İSTANBUL", "tr", "istanbul"),
        ("IĞDIR", "tr", "ığdır"),
        ("Işık", "tr", "ışık"),
        ("INTERNET", "en", "internet"),
        ("İyi Günler", "tr", "iyi günler"),
    ],
)
def test_lower(text, language, expected):
    assert lower(text, language) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Anadolu Telekom'a hoş geldiniz!", "anadolu telekom a hoş geldiniz"),
        ("Başka   yardımcı olabileceğim bir konu var mı?", "başka yardımcı olabileceğim bir konu var mı"),
        ("TC-kimlik: 123", "tc kimlik 123"),
        ("i\u0307yi", "iyi"),  # decomposed dotted i composes away under NFC + Turkish rules
    ],
)
def test_normalize(text, expected):
    assert normalize(text, "tr") == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Teşekkür ederiz", "tesekkur ederiz"),
        ("IĞDIR ÇÖŞÜ", "igdir cosu"),
        ("hoşgeldiniz", "hosgeldiniz"),
    ],
)
def test_fold(text, expected):
    assert fold(text, "tr") == expected
