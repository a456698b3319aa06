"""The transformers sentiment backend: any `text-classification` model, hub id or local directory.

Spec: `transformers:<ref>` or `transformers:<ref>?map=NAME=label,NAME=label` where `label` is
negative / neutral / positive (an explicit mapping wins over the automatic one).

The model loads lazily at the first `predict`, from local files only unless `CALLQA_ONLINE` is set
(a user online may name a hub model, e.g. a Turkish BERT sentiment model).

Automatic label mapping (case-insensitive), per model label name:
- names containing negative/neg/olumsuz -> negative, positive/pos/olumlu -> positive,
  neutral/neu/nötr/notr -> neutral;
- star ratings "1 star" .. "5 stars" (or "yıldız"): 1-2 negative, 3 neutral, 4-5 positive;
- bare ids `LABEL_i` or `i`: 2 labels -> 0 negative, 1 positive; 3 labels -> 0 negative,
  1 neutral, 2 positive; 5 labels -> read as stars 1..5.
Anything else raises a ValueError that asks for `?map=`.

Two-class models (no neutral label): the utterance is neutral when neither side is confident,
i.e. |P(positive) - P(negative)| < `two_class_margin` (0.5, i.e. the winning side below 0.75);
its score is then 1 - |P(positive) - P(negative)|.
"""

from __future__ import annotations

import os
import re
import threading

from qa.sentiment import LABELS, NEUTRAL_EMPTY, Sentiment, from_probabilities

BATCH = 16
MAX_TOKENS = 512

_WORDS = {
    "negative": ("negative", "neg", "olumsuz"),
    "positive": ("positive", "pos", "olumlu"),
    "neutral": ("neutral", "neu", "nötr", "notr", "nötral"),
}
_STAR = re.compile(r"^\s*([1-5])\s*(stars?|yıldız|yildiz)\s*$")
_ID = re.compile(r"^(?:label_)?(\d+)$")


def parse_spec(spec: str) -> tuple[str, dict[str, str] | None]:
    """`transformers:<ref>[?map=A=negative,B=positive]` -> (ref, mapping or None)."""
    ref = spec.split(":", 1)[1] if spec.startswith("transformers:") else spec
    if "?map=" not in ref:
        return ref, None
    ref, raw = ref.rsplit("?map=", 1)
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, label = part.rpartition("=")
        label = label.strip().lower()
        if not name or label not in LABELS:
            raise ValueError(f"bad label mapping {part!r}: use NAME=negative|neutral|positive")
        mapping[name.strip()] = label
    return ref, mapping


def _by_word(name: str) -> str | None:
    low = name.strip().lower()
    for label in ("negative", "positive", "neutral"):  # "olumsuz" contains "olum", so test negative first
        if any(low == w or low.startswith(w) for w in _WORDS[label]):
            return label
    for label in ("negative", "positive", "neutral"):
        if any(w in low for w in _WORDS[label] if len(w) > 3):
            return label
    return None


def _stars(n: int) -> str:
    return "negative" if n <= 2 else "neutral" if n == 3 else "positive"


def map_labels(names: list[str], explicit: dict[str, str] | None = None) -> dict[str, str]:
    """Model label name -> negative / neutral / positive, for every name (see module docstring)."""
    explicit = {k.lower(): v for k, v in (explicit or {}).items()}
    ids = [_ID.match(n.strip().lower()) for n in names]
    out: dict[str, str] = {}
    for name, idm in zip(names, ids):
        low = name.strip().lower()
        if low in explicit:
            out[name] = explicit[low]
            continue
        label = _by_word(name)
        star = _STAR.match(low)
        if label is None and star:
            label = _stars(int(star.group(1)))
        if label is None and idm and all(ids):
            i = int(idm.group(1))
            if len(names) == 2:
                label = ("negative", "positive")[i] if i < 2 else None
            elif len(names) == 3:
                label = LABELS[i] if i < 3 else None
            elif len(names) == 5:
                label = _stars(i + 1) if i < 5 else None
        if label is None:
            raise ValueError(f"cannot map model label {name!r} (labels {names}); give "
                             f"'transformers:<model>?map={name}=negative|neutral|positive,...'")
        out[name] = label
    return out


class TransformersSentiment:
    """A transformers text-classification pipeline with its labels folded onto three classes."""

    def __init__(self, ref: str, label_map: dict[str, str] | None = None, two_class_margin: float = 0.5,
                 batch_size: int = BATCH) -> None:
        self.ref = ref
        self.name = f"transformers:{ref}"
        self._explicit = label_map
        self.two_class_margin = two_class_margin
        self.batch_size = batch_size
        self._pipe = None
        self._mapping: dict[str, str] = {}
        self._max_length = MAX_TOKENS
        self._lock = threading.Lock()

    @property
    def mapping(self) -> dict[str, str]:
        """Model label -> our label (loads the model)."""
        self._load()
        return dict(self._mapping)

    def _load(self):
        with self._lock:
            if self._pipe is None:
                from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

                offline = not os.environ.get("CALLQA_ONLINE")
                tok = AutoTokenizer.from_pretrained(self.ref, local_files_only=offline)
                model = AutoModelForSequenceClassification.from_pretrained(self.ref, local_files_only=offline).eval()
                names = [model.config.id2label[i] for i in sorted(model.config.id2label)]
                self._mapping = map_labels(names, self._explicit)
                limit = getattr(tok, "model_max_length", MAX_TOKENS) or MAX_TOKENS
                self._max_length = int(min(limit, MAX_TOKENS))
                self._pipe = pipeline("text-classification", model=model, tokenizer=tok, top_k=None, device=-1)
            return self._pipe

    def _fold(self, scores: list[dict]) -> Sentiment:
        p = dict.fromkeys(LABELS, 0.0)
        for item in scores:
            p[self._mapping[item["label"]]] += float(item["score"])
        if "neutral" not in self._mapping.values():
            polarity = p["positive"] - p["negative"]
            if abs(polarity) < self.two_class_margin:
                return Sentiment("neutral", 1.0 - abs(polarity), polarity)
        return from_probabilities(p["negative"], p["neutral"], p["positive"])

    def predict(self, texts: list[str], language: str) -> list[Sentiment]:
        out: list[Sentiment] = [NEUTRAL_EMPTY] * len(texts)
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        if not todo:
            return out
        pipe = self._load()
        results = pipe([texts[i].strip() for i in todo], batch_size=self.batch_size, truncation=True,
                       max_length=self._max_length)
        for i, scores in zip(todo, results):
            out[i] = self._fold(scores)
        return out
