"""A call's analysis after its transcript: sentiment, holds, conversation metrics, acoustic
cues and customer profiles, in the shapes the store and the rubric engine take.

Each step is a function so the pipeline can time it as its own stage. Inputs are the
PII-redacted utterances with roles and the speech-activity turns; nothing here touches
the raw transcript. The sentiment backend is loaded once per process and settings.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

from qa.audio import Audio
from qa.callfacts import CallEvent
from qa.config import Settings
from qa.transcript import Utterance

Activity = list[tuple[str, str, float, float]]  # (speaker, role, start, end)

_BACKENDS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def sentiment_backend(settings: Settings):
    """The configured sentiment backend (None when `sentiment = "off"`), loaded once."""
    from qa.sentiment import load_sentiment

    key = (settings.sentiment, settings.embedding_model)
    with _LOCK:
        if key not in _BACKENDS:
            _BACKENDS[key] = load_sentiment(settings.sentiment, settings.embedding_model)
        return _BACKENDS[key]


def add_sentiment(utterances: list[Utterance], language: str, settings: Settings) -> dict[str, Any] | None:
    """Label every utterance (in place) and return the call-level summary, or None when off."""
    if settings.sentiment == "off" or not utterances:
        return None
    from qa.sentiment.summary import summarise

    backend = sentiment_backend(settings)
    if backend is None or not utterances:
        return None
    predictions = backend.predict([u.text for u in utterances], language)
    for u, p in zip(utterances, predictions):
        u.sentiment_label, u.sentiment_score, u.sentiment_polarity = p.label, round(p.score, 4), round(p.polarity, 4)
    summary = summarise([u.role for u in utterances], [u.start for u in utterances], predictions)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(summary).items()}


def conversation(
    audio: Audio, utterances: list[Utterance], activity: Activity, duration_s: float, language: str,
    acoustic: bool = False,
) -> tuple[dict[str, float | None], list[CallEvent]]:
    """Holds, conversation metrics and (optionally) per-role acoustic cues, as flat metrics and timed events."""
    from qa.holds import detect_holds
    from qa.metrics import conversation_metrics

    holds = detect_holds(activity, utterances, duration_s, language)
    cm = conversation_metrics(activity, utterances, duration_s, holds)
    metrics: dict[str, float | None] = cm.as_dict()
    metrics["holds_without_permission"] = float(sum(not h.asked_permission for h in holds))
    metrics["holds_without_thanks"] = float(sum(not h.thanked_after for h in holds))
    for role in ("agent", "customer") if acoustic else ():
        if any(r == role for _, r, _, _ in activity):
            from qa.acoustics import role_cues

            for key, value in role_cues(audio, activity, role).as_dict().items():
                metrics[f"{role}_{key}"] = value
    events = [
        CallEvent("hold", h.start_s, h.end_s, {
            "asked_permission": h.asked_permission, "thanked_after": h.thanked_after, "announced": h.announced,
            "kind": h.kind, "reasons": h.reasons,
        })
        for h in holds
    ]
    events += [
        CallEvent("interruption", round(i.at_s, 3), round(i.at_s + i.overlap_s, 3),
                  {"by": i.by, "of": i.of, "overlap_s": round(i.overlap_s, 3)})
        for i in cm.interruptions
    ]
    events.sort(key=lambda e: (e.start_s, e.kind))
    return metrics, events


def profiles(metrics: dict[str, float | None], utterances: list[Utterance], language: str) -> list[Any]:
    """Customer profile tags supported by the call's evidence, with handling strategies."""
    from qa.profiles import tag_profiles

    sentiments = None
    if any(u.sentiment_label is not None for u in utterances):
        sentiments = [_Rated(u.sentiment_label, u.sentiment_polarity) for u in utterances]
    return tag_profiles(metrics, utterances, language, sentiments)


class _Rated:
    """The sentiment view of an utterance that the profile tagger reads (`label`, `polarity`)."""

    __slots__ = ("label", "polarity")

    def __init__(self, label: str | None, polarity: float | None) -> None:
        self.label, self.polarity = label or "neutral", polarity or 0.0
