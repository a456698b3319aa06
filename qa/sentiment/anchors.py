"""The offline sentiment backend: sentence embeddings + labelled anchor utterances.

Each language has a YAML file of anchor utterances per label (`anchors/tr.yaml`, `anchors/en.yaml`).
At first use for a language the anchors are embedded (`qa.embeddings`, multilingual-e5-small by
default) and a logistic regression is fitted on them; utterances are then embedded in batches and
classified with its calibrated class probabilities. A language without an anchor file uses all
anchors (the embeddings are multilingual).

Why a logistic regression: e5 cosine similarities are all high (about 0.8 even for unrelated
sentences), so raw similarity thresholds mean nothing. On a development split of the anchors
(5-fold CV, 3 repeats, `qa.sentiment.evaluate.anchor_cv`) it beat k-NN and per-label centroids:
accuracy TR 0.919 vs 0.855 (9-NN) and 0.903 (centroids), EN 0.940 vs 0.901 (5-NN) and 0.934.
C=1..300 tie on accuracy (within 0.01); C=100 has a near-lowest CV log-loss (TR 0.31, EN 0.19,
against 0.42 / 0.30 at C=10), and back-channels ("evet", "tamam", "okay") come out neutral at
0.83-1.00 confidence, so no hand-written short-utterance rule is needed.
Adding the other language's anchors did not help once translation pairs were kept out of the
training folds (TR +0.01, EN -0.02, both within noise), so each language uses its own anchors.

Anchor embeddings are cached on disk (keyed by the embedding model and the anchor file's bytes),
so a new process does not re-embed them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from qa.sentiment import LABELS, NEUTRAL_EMPTY, Sentiment, from_probabilities

LOGREG_C = 100.0  # chosen on the anchor dev split (see module docstring)
BATCH = 64


@dataclass(frozen=True)
class AnchorSet:
    language: str
    texts: list[str]
    labels: list[str]
    digest: str  # sha256 of the source file(s), for the embedding cache


def default_anchor_dir() -> Path:
    return Path(str(resources.files("qa.sentiment").joinpath("anchors")))


def anchor_languages(anchor_dir: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (anchor_dir or default_anchor_dir()).glob("*.yaml"))


def _read(path: Path) -> tuple[list[str], list[str], bytes]:
    raw = path.read_bytes()
    data = yaml.safe_load(raw) or {}
    labelled = data.get("labels") or {}
    unknown = set(labelled) - set(LABELS)
    if unknown:
        raise ValueError(f"{path.name}: unknown labels {sorted(unknown)}; use {LABELS}")
    texts, labels = [], []
    for label in LABELS:
        for text in labelled.get(label) or []:
            if str(text).strip():
                texts.append(str(text).strip())
                labels.append(label)
    return texts, labels, raw


def load_anchors(language: str, anchor_dir: Path | None = None) -> AnchorSet:
    """The anchors of `language`, or of every language when it has no file of its own."""
    folder = anchor_dir or default_anchor_dir()
    own = folder / f"{language}.yaml"
    paths = [own] if own.exists() else sorted(folder.glob("*.yaml"))
    if not paths:
        raise FileNotFoundError(f"no anchor files in {folder}")
    texts: list[str] = []
    labels: list[str] = []
    digest = hashlib.sha256()
    for path in paths:
        t, l, raw = _read(path)
        texts += t
        labels += l
        digest.update(raw)
    missing = set(LABELS) - set(labels)
    if missing:
        raise ValueError(f"anchors for {language!r} lack labels {sorted(missing)}")
    return AnchorSet(language if own.exists() else "*", texts, labels, digest.hexdigest())


def _cache_file(embedding_model: str, anchors: AnchorSet) -> Path:
    from qa.config import default_cache_dir

    key = hashlib.sha256(f"{embedding_model}\n{anchors.digest}".encode()).hexdigest()[:24]
    return default_cache_dir() / "sentiment" / f"anchors-{key}.npy"


def embed_anchors(embedder, embedding_model: str, anchors: AnchorSet, use_cache: bool = True) -> np.ndarray:
    """Anchor embeddings, from the disk cache when it matches."""
    path = _cache_file(embedding_model, anchors)
    if use_cache and path.exists():
        cached = np.load(path)
        if cached.shape[0] == len(anchors.texts):
            return cached
    vectors = encode_batched(embedder, anchors.texts)
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the re-embedding
    return vectors


def encode_batched(embedder, texts: list[str]) -> np.ndarray:
    parts = [embedder.encode(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)]
    return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def fit_classifier(vectors: np.ndarray, labels: list[str], c: float = LOGREG_C):
    """Multinomial logistic regression over unit embedding rows; classes in `LABELS` order."""
    from sklearn.linear_model import LogisticRegression

    y = np.array([LABELS.index(label) for label in labels])
    return LogisticRegression(C=c, max_iter=5000).fit(vectors, y)


class AnchorSentiment:
    """Embedding + anchor logistic-regression sentiment; one fitted model per language."""

    def __init__(self, embedding_model: str = "bundled:e5-small", anchor_dir: Path | None = None,
                 use_cache: bool = True) -> None:
        self.embedding_model = embedding_model
        self.name = f"anchors({embedding_model})"
        self._anchor_dir = anchor_dir
        self._use_cache = use_cache
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    def _embedder(self):
        from qa.embeddings import get_embedder

        return get_embedder(self.embedding_model)

    def _model_for(self, language: str):
        folder = self._anchor_dir or default_anchor_dir()
        key = language if (folder / f"{language}.yaml").exists() else "*"
        with self._lock:
            if key not in self._models:
                anchors = load_anchors(language, self._anchor_dir)
                vectors = embed_anchors(self._embedder(), self.embedding_model, anchors, self._use_cache)
                self._models[key] = fit_classifier(vectors, anchors.labels)
            return self._models[key]

    def predict(self, texts: list[str], language: str) -> list[Sentiment]:
        language = (language or "").strip().lower().split("-")[0].split("_")[0]
        out: list[Sentiment] = [NEUTRAL_EMPTY] * len(texts)
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        if not todo:
            return out
        model = self._model_for(language)
        vectors = encode_batched(self._embedder(), [texts[i].strip() for i in todo])
        probs = model.predict_proba(vectors)  # columns follow model.classes_ = 0, 1, 2 = LABELS
        for i, p in zip(todo, probs):
            out[i] = from_probabilities(float(p[0]), float(p[1]), float(p[2]))
        return out
