"""Call-level sentiment: the customer's trajectory (start vs end of the call) and the agent's tone.

Rules (polarity = P(positive) - P(negative) per utterance, -1..1):
- customer start / end: mean polarity of the customer utterances that start in the first / last
  third of the span between the customer's first and last utterance start (by time, so a burst
  of short back-channels does not stretch a third). Needs at least two customer utterances.
- trajectory: "improved" when end - start >= TRAJECTORY_MARGIN, "worsened" when <= -margin, else
  "steady". 0.25 is an eighth of the polarity range: one clearly negative utterance turning
  into a clearly positive one among three moves the mean by about 0.6; noise between neutral
  utterances (|polarity| ~0.1) stays below it.
- agent tone: "negative" when at least AGENT_NEGATIVE_SHARE of the agent's utterances are negative
  or the agent's mean polarity is <= -AGENT_MARGIN; "positive" when the mean is >= AGENT_MARGIN;
  else "neutral". Agents are mostly procedural (neutral), so a modest positive mean already
  reads as warm, and a few negative utterances already matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.sentiment import Sentiment

TRAJECTORY_MARGIN = 0.25
AGENT_MARGIN = 0.15
AGENT_NEGATIVE_SHARE = 0.2


@dataclass
class CallSentiment:
    customer_start: float | None  # mean polarity of the customer's first third of speech (by time)
    customer_end: float | None  # ... last third
    customer_trajectory: str | None  # "improved" | "worsened" | "steady"
    customer_mean: float | None
    agent_mean: float | None
    agent_negative_share: float | None  # share of agent utterances labelled negative
    agent_tone: str | None  # "positive" | "neutral" | "negative"
    customer_negative_share: float | None = None
    n_customer: int = 0
    n_agent: int = 0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def trajectory(start: float | None, end: float | None, margin: float = TRAJECTORY_MARGIN) -> str | None:
    if start is None or end is None:
        return None
    delta = end - start
    return "improved" if delta >= margin else "worsened" if delta <= -margin else "steady"


def tone(mean: float | None, negative_share: float | None) -> str | None:
    if mean is None or negative_share is None:
        return None
    if negative_share >= AGENT_NEGATIVE_SHARE or mean <= -AGENT_MARGIN:
        return "negative"
    return "positive" if mean >= AGENT_MARGIN else "neutral"


def _thirds(starts: list[float], values: list[float]) -> tuple[float | None, float | None]:
    if len(values) < 2:
        return None, None
    first, last = min(starts), max(starts)
    third = (last - first) / 3.0
    head = [v for s, v in zip(starts, values) if s <= first + third]
    tail = [v for s, v in zip(starts, values) if s >= last - third]
    return _mean(head), _mean(tail)


def summarise(roles: list[str], starts: list[float], sentiments: list[Sentiment]) -> CallSentiment:
    """Call-level figures from per-utterance roles ("agent" / "customer" / other), start times (s)
    and sentiments, all in the same order. Utterances of other roles are ignored."""
    if not (len(roles) == len(starts) == len(sentiments)):
        raise ValueError("roles, starts and sentiments must have the same length")
    cust = [(s, x) for r, s, x in zip(roles, starts, sentiments) if r == "customer"]
    agent = [x for r, x in zip(roles, sentiments) if r == "agent"]

    c_pol = [x.polarity for _, x in cust]
    c_start, c_end = _thirds([s for s, _ in cust], c_pol)
    a_mean = _mean([x.polarity for x in agent])
    a_neg = sum(x.label == "negative" for x in agent) / len(agent) if agent else None
    c_neg = sum(x.label == "negative" for _, x in cust) / len(cust) if cust else None
    return CallSentiment(
        customer_start=c_start,
        customer_end=c_end,
        customer_trajectory=trajectory(c_start, c_end),
        customer_mean=_mean(c_pol),
        agent_mean=a_mean,
        agent_negative_share=a_neg,
        agent_tone=tone(a_mean, a_neg),
        customer_negative_share=c_neg,
        n_customer=len(cust),
        n_agent=len(agent),
    )
