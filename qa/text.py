"""Language-aware text normalisation for matching and for WER.

Python's `str.lower()` is wrong for Turkish ("I" -> "i", "İ" -> "i" + combining dot), so
Turkish text is lower-cased with the Turkish dotted/dotless rules after NFC composition.
`fold()` additionally strips diacritics for tolerant matching of ASR output that drops
them ("teşekkür" / "tesekkur").
"""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACE = re.compile(r"\s+")
_FOLD = str.maketrans("çğıöşüâîû", "cgiosuaiu")


def lower(text: str, language: str | None = "tr") -> str:
    """Lower-case with Turkish/Azeri rules for I/İ when `language` is tr/az."""
    text = unicodedata.normalize("NFC", text)
    if language in ("tr", "az"):
        text = text.replace("I", "ı").replace("İ", "i")
    # "i" + combining dot above (what str.lower() makes of "İ") is plain "i"
    return unicodedata.normalize("NFC", text.lower()).replace("i\u0307", "i")


def normalize(text: str, language: str | None = "tr") -> str:
    """Lower-case, turn punctuation (apostrophes included) into spaces and squeeze spaces."""
    text = lower(text, language)
    text = text.replace("’", " ").replace("'", " ")
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def fold(text: str, language: str | None = "tr") -> str:
    """`normalize` and then drop diacritics (ç->c, ğ->g, ı->i, ö->o, ş->s, ü->u, and the rest)."""
    text = normalize(text, language).translate(_FOLD)
    decomposed = unicodedata.normalize("NFD", text)
    if decomposed.isascii():  # nothing to drop (the usual case once ç, ğ, ı, ö, ş, ü are folded)
        return decomposed
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str, language: str | None = "tr") -> list[str]:
    return normalize(text, language).split()
