"""Who is the agent: map diarized speakers (or channels) to agent / customer with a confidence.

Stereo with `agent_channel` in the metadata is taken as given (confidence 1). Otherwise
each speaker gets evidence from what they say and when: agent phrases (greeting, company
name, "how can I help", self-introduction, verification, hold and closing formulas),
customer phrases (complaints, "my bill", "I'm calling about"), and who opens the call
(the agent on inbound calls, the customer's "hello?" on outbound ones). The difference
of the two best scores becomes a confidence through a logistic curve.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from qa.asr import Word
from qa.text import fold

AGENT_PHRASES = {
    "tr": [
        "hoş geldiniz", "hoşgeldiniz", "nasıl yardımcı olabilirim", "size nasıl yardımcı", "yardımcı olabileceğim",
        "müşteri hizmetleri", "benim adım", "ben de size", "kimlik numaranızı", "teyit", "doğrulama",
        "doğrulamak", "hatta kal", "beklemeye alıyorum", "beklettiğim", "beklediğiniz için", "aradığınız için teşekkür",
        "bizi aradığınız", "tercih ettiğiniz", "iyi günler dilerim", "başka yardımcı", "kaydınızı", "talebinizi",
        "hanım", "bey", "efendim", "anlıyorum", "yardımcı olayım", "kontrol ediyorum", "sistemde",
    ],
    "en": [
        "thank you for calling", "how can i help", "how may i help", "how can i assist", "my name is",
        "speaking", "can i have your", "could i have your", "verify", "account number", "date of birth",
        "anything else", "have a great day", "have a nice day", "calling from", "put you on hold",
        "thank you for holding", "thanks for holding", "thank you for waiting", "i understand", "let me check",
        "i can help", "i'd be happy to", "i will be happy to", "in our system", "your account",
    ],
}
CUSTOMER_PHRASES = {
    "tr": [
        "şikayet", "sorunum", "faturam", "internetim", "hattım", "hesabım", "kartım", "param", "aradım",
        "arıyorum", "istiyorum", "yapamıyorum", "çalışmıyor", "neden", "hala", "kaç kere", "alo",
    ],
    "en": [
        "i have a problem", "my bill", "i was charged", "i'm calling about", "i am calling about", "i want to",
        "i'd like to", "i would like to", "my car", "my account", "it doesn't work", "it's not working", "why", "hello",
    ],
}
FIRST_SPEAKER_WEIGHT = 1.5


@dataclass(frozen=True)
class RoleAssignment:
    roles: dict[str, str]  # speaker label -> agent | customer | unknown
    agent: str | None
    confidence: float
    method: str
    evidence: dict[str, float]


def _count(text: str, phrases: list[str], language: str) -> int:
    """Occurrences of each phrase starting at a word boundary (suffixes allowed: Turkish morphology)."""
    return sum(len(re.findall(r"(?<!\w)" + re.escape(fold(p, language)), text)) for p in phrases)


def speaker_scores(
    words_by_speaker: dict[str, list[Word]],
    language: str,
    direction: str | None = None,
    company_names: list[str] | None = None,
    first_speaker: str | None = None,
) -> dict[str, float]:
    """An agent-likeness score per speaker (higher = more agent-like)."""
    lang = language if language in AGENT_PHRASES else "en"
    agent_p = AGENT_PHRASES[lang] + [c for c in company_names or []]
    cust_p = CUSTOMER_PHRASES[lang]
    scores: dict[str, float] = {}
    for spk, words in words_by_speaker.items():
        text = fold(" ".join(w.text for w in words), lang)
        # rates per 100 words, so a talkative speaker does not win by volume alone
        n = max(len(words), 20)
        score = 100 * (_count(text, agent_p, lang) - 0.7 * _count(text, cust_p, lang)) / n
        # phrases in the speaker's first 25 words weigh extra: greetings open calls
        head = fold(" ".join(w.text for w in words[:25]), lang)
        score += 0.5 * _count(head, agent_p, lang)
        scores[spk] = score
    if first_speaker in scores:
        scores[first_speaker] += -FIRST_SPEAKER_WEIGHT if direction == "outbound" else FIRST_SPEAKER_WEIGHT
    return scores


def assign_roles(
    words_by_speaker: dict[str, list[Word]],
    speakers: list[str],
    language: str,
    direction: str | None = None,
    company_names: list[str] | None = None,
    first_speaker: str | None = None,
    agent_speaker: str | None = None,
) -> RoleAssignment:
    """Label speakers agent/customer. `agent_speaker` (from metadata) wins when given."""
    if agent_speaker is not None:
        roles = {s: ("agent" if s == agent_speaker else "customer") for s in speakers}
        return RoleAssignment(roles, agent_speaker, 1.0, "metadata", {})
    heard = {s: w for s, w in words_by_speaker.items() if w}
    if not heard:
        return RoleAssignment({s: "unknown" for s in speakers}, None, 0.0, "none", {})
    scores = speaker_scores(heard, language, direction, company_names, first_speaker)
    ranked = sorted(scores, key=scores.get, reverse=True)
    agent = ranked[0]
    margin = scores[agent] - (scores[ranked[1]] if len(ranked) > 1 else 0.0)
    confidence = 1 / (1 + math.exp(-margin)) if len(ranked) > 1 else 0.5
    roles = {s: ("agent" if s == agent else "customer") for s in speakers}
    if len(ranked) == 1 and margin <= 0:
        roles[agent] = "unknown"
    return RoleAssignment(roles, agent, round(confidence, 3), "phrases+turn-order", scores)
