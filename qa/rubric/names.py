"""Names heard wrong: does a transcript say the company's or the agent's name, even misheard?

Whisper writes a name it does not know as the nearest words it does ("Northwind" -> "North Wind",
"Ayşe Demir" -> "Ayşe'de miyim"). A rubric phrase that is only a name placeholder (`{company}`,
`{agent_name}`, `{agent_first_name}`) is therefore also matched by sound: the name and every run of
up to one word more than the name has are reduced to a sound key (letters folded, spaces dropped,
letters that sound alike merged) and compared with rapidfuzz's `ratio`. Hand-written because no
maintained phonetic library covers Turkish and English spelling at once (jellyfish's Metaphone and
NYSIIS are English-only and drop the vowels Turkish names are told apart by).
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from qa.text import fold

NAME_PLACEHOLDERS = ("company", "agent_name", "agent_first_name")
# Chosen on the 9 sample calls' transcripts (3 decodings each; `tests/test_names.py` holds the cases):
# names heard wrong scored 81.8-98 ("denayış edemiyor" for "Ayşe Demir", "can özdürk" for "Can
# Öztürk"); words where no name was said scored at most 78 ("ederim" against "Derya").
NAME_THRESHOLD = 80.0
MIN_KEY_LETTERS = 4  # a name shorter than this ("Ali") is too short to match by sound
MIN_COVER = 0.8  # the heard words must hold at least this share of the name's sound key

_SOUNDS = [
    (re.compile(r"ph"), "f"), (re.compile(r"ck|q|c(?=[aou])"), "k"), (re.compile(r"x"), "ks"),
    (re.compile(r"w"), "v"), (re.compile(r"[yı]"), "i"), (re.compile(r"(?<=[^aeiou])h"), ""),
    (re.compile(r"(.)\1+"), r"\1"),
]


def sound_key(text: str, language: str) -> str:
    """Letters of `text` folded (case, I/İ, diacritics), spaces and punctuation dropped, and letters
    that sound alike in either language merged."""
    key = re.sub(r"[^a-z0-9ı]", "", fold(text, language).replace("'", ""))
    for pattern, repl in _SOUNDS:
        key = pattern.sub(repl, key)
    return key


def name_similarity(name: str, text: str, language: str) -> tuple[float, tuple[int, int]]:
    """Best sound similarity (0-100) of `name` with any run of consecutive words of `text`, and the
    run's word span. Runs have from one word to one more word than the name."""
    target = sound_key(name, language)
    tokens = fold(text, language).split()
    if len(target) < MIN_KEY_LETTERS or not tokens:
        return 0.0, (0, 0)
    longest = len(name.split()) + 1
    keys = [sound_key(t, language) for t in tokens]
    best, span = 0.0, (0, 0)
    for i in range(len(tokens)):
        joined = ""
        for j in range(i, min(len(tokens), i + longest)):
            joined += keys[j]
            if len(joined) < MIN_COVER * len(target):
                continue  # a part of the name ("sigorta" of "Ege Sigorta") is not the name
            # a suffix on the last word ("Telekom'a", "Telekomdan") is allowed: compare the prefix too
            score = max(fuzz.ratio(target, joined),
                        fuzz.ratio(target, joined[: len(target)]) - 2 if len(joined) > len(target) else 0.0)
            if score > best:
                best, span = score, (i, j + 1)
    return round(best, 1), span


def is_name_phrase(phrase: str) -> bool:
    """True for a rubric phrase that is nothing but a name placeholder."""
    return phrase.strip() in {"{" + p + "}" for p in NAME_PLACEHOLDERS}
