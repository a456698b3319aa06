"""Per-utterance sentiment (negative / neutral / positive) behind one small interface.

Backends (chosen by a spec string, `Settings.sentiment`):
- `anchors` (default, offline): multilingual sentence embeddings of the utterance, classified by a
  logistic regression fitted at load time on labelled anchor utterances kept in this package
  (`anchors/<language>.yaml`). See `qa.sentiment.anchors`.
- `transformers:<hub id or local directory>[?map=NAME=label,...]`: any transformers
  text-classification model, its label names mapped onto the three labels. See `qa.sentiment.hf`.
- `off`: no sentiment (`load_sentiment` returns None).

Call-level figures (customer trajectory, agent tone) are in `qa.sentiment.summary`; the held-out
evaluation is in `qa.sentiment.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Sentiment:
    label: str  # "negative" | "neutral" | "positive"
    score: float  # confidence of that label, 0..1
    polarity: float  # P(positive) - P(negative), -1..1


class SentimentBackend(Protocol):
    name: str

    def predict(self, texts: list[str], language: str) -> list[Sentiment]: ...


NEUTRAL_EMPTY = Sentiment("neutral", 1.0, 0.0)  # what an empty (or fully blank) utterance gets


def from_probabilities(p_neg: float, p_neu: float, p_pos: float) -> Sentiment:
    """The arg-max label of three class probabilities, its probability as the score, and the polarity."""
    probs = (p_neg, p_neu, p_pos)
    best = max(range(3), key=lambda i: probs[i])
    return Sentiment(LABELS[best], float(probs[best]), float(p_pos - p_neg))


def load_sentiment(spec: str, embedding_model: str = "bundled:e5-small") -> SentimentBackend | None:
    """The backend for `spec`: "anchors" (offline default), "off" (None) or
    "transformers:<hub id or directory>[?map=LABEL_0=negative,LABEL_1=positive]".

    Models load lazily, at the first `predict`, so this call is cheap."""
    spec = (spec or "off").strip()
    if spec.lower() in ("off", "none", ""):
        return None
    if spec.lower() == "anchors":
        from qa.sentiment.anchors import AnchorSentiment

        return AnchorSentiment(embedding_model)
    if spec.startswith("transformers:"):
        from qa.sentiment.hf import TransformersSentiment, parse_spec

        ref, mapping = parse_spec(spec)
        return TransformersSentiment(ref, label_map=mapping)
    raise ValueError(f"unknown sentiment backend {spec!r}: use 'anchors', 'off' or 'transformers:<hub id or directory>'")


__all__ = ["LABELS", "Sentiment", "SentimentBackend", "load_sentiment", "from_probabilities", "NEUTRAL_EMPTY"]
