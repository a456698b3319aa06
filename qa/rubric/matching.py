"""Phrase matching that survives ASR errors and Turkish morphology.

Phrase and utterance are normalised (Turkish I/İ, NFC) and folded (diacritics dropped).
The phrase is slid over the utterance's tokens; each phrase token is compared with the
aligned token and with that token's prefix (so "teşekkür" matches "teşekkürler", a
suffix), using rapidfuzz ratios weighted by token length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from qa.text import fold


@dataclass(frozen=True)
class PhraseMatch:
    phrase: str
    similarity: float  # 0-100
    utterance_idx: int
    span: tuple[int, int]  # token span in the utterance


def _token_sim(p: str, u: str) -> float:
    best = fuzz.ratio(p, u)
    if len(u) > len(p) >= 3:
        best = max(best, fuzz.ratio(p, u[: len(p)]) - 2)  # suffix allowed, tiny penalty
    return best


def phrase_similarity(phrase: str, text: str, language: str) -> tuple[float, tuple[int, int]]:
    """Best similarity (0-100) of `phrase` anywhere in `text`, with the token span."""
    p_tokens = fold(phrase, language).split()
    u_tokens = fold(text, language).split()
    if not p_tokens or not u_tokens:
        return 0.0, (0, 0)
    n = len(p_tokens)
    p_joined = " ".join(p_tokens)
    weights = [len(t) for t in p_tokens]
    total = sum(weights)
    best, span = 0.0, (0, 0)
    for i in range(max(1, len(u_tokens) - n + 1)):
        window = u_tokens[i : i + n]
        if len(window) < n:
            window = window + [""] * (n - len(window))
        score = sum(w * _token_sim(p, u) for p, u, w in zip(p_tokens, window, weights)) / total
        if n > 1 and i + n < len(u_tokens):  # one extra word inside ("i'm so sorry" ~ "i'm sorry")
            longer = u_tokens[i : i + n + 1]
            for skip in range(1, n):
                window2 = longer[:skip] + longer[skip + 1 :]
                s2 = sum(w * _token_sim(p, u) for p, u, w in zip(p_tokens, window2, weights)) / total - 4
                score = max(score, s2)
        joined = " ".join(u_tokens[i : i + n + 1])
        # ASR may split or join words: also compare the joined strings, but only when the
        # utterance is about as long as the phrase (partial_ratio would otherwise score a
        # short "sure" 100 against "are you sure")
        if n > 1 and len(joined) >= 0.85 * len(p_joined):
            score = max(score, fuzz.partial_ratio(p_joined, joined) - 3)
        if score > best:
            best, span = score, (i, min(i + n, len(u_tokens)))
    return round(best, 1), span


# Turkish negates inside the verb ("veriyorum" / "veremiyorum", "yapacağım" / "yapmayacağım");
# folded forms, so ı -> i. English negates with a separate word before the verb.
_TR_NEGATION = re.compile(r"(m[ei]yor|m[ei]yo$|m[ae]y[ae]c|m[ae]z$|m[ae]zs|m[ae]d[iu]|m[ae]m$|m[ae]m[iu]z$|m[ae]n$)")
_EN_NEGATORS = {"not", "never", "cannot", "can't", "t", "no", "won't", "don't"}


def negated(phrase: str, text: str, span: tuple[int, int], language: str) -> bool:
    """True when the matched words are a negated form of the phrase ("söz veremem" vs "söz veriyorum")."""
    p_tokens = fold(phrase, language).split()
    u_tokens = fold(text, language).split()
    matched = u_tokens[span[0] : span[1]]
    around = u_tokens[max(0, span[0] - 2) : span[0]] + u_tokens[span[1] : span[1] + 1]
    if any(t in _EN_NEGATORS for t in matched + around) and not any(t in _EN_NEGATORS for t in p_tokens):
        return True
    if "degil" in around and "degil" not in p_tokens:
        return True
    neg_u = any(_TR_NEGATION.search(t) for t in matched)
    neg_p = any(_TR_NEGATION.search(t) for t in p_tokens)
    return neg_u and not neg_p


def best_match(
    phrases: list[str], utterances, language: str, threshold: float, reject_negated: bool = False
) -> PhraseMatch | None:
    """The strongest match at or above `threshold` of any phrase in any utterance.

    `reject_negated` skips matches that negate the phrase; used for forbidden phrases,
    where "I can't promise" must not count as "I promise".
    """
    best: PhraseMatch | None = None
    for phrase in phrases:
        for u in utterances:
            sim, span = phrase_similarity(phrase, u.text, language)
            if reject_negated and sim >= threshold and negated(phrase, u.text, span, language):
                continue
            if sim >= threshold and (best is None or sim > best.similarity):
                best = PhraseMatch(phrase, sim, u.idx, span)
    return best
