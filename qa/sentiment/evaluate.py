"""Sentiment evaluation: accuracy, macro-F1, per-class precision/recall and the confusion matrix.

Data: the held-out labelled call utterances in `tests/data/sentiment/heldout_<lang>.jsonl`
(written independently of the anchors) and, as a second set, the per-turn sentiment labels of
the synthetic sample calls (`sample_audio/reference/*.json`, reference text, not ASR output).
`anchor_cv` is the development split (cross-validation over the anchors only) used to choose the
anchor classifier; the held-out sets are never used for choosing.

    python -m qa.sentiment.evaluate [--spec anchors] [--languages tr en] [--cv] [--errors]

Prints the held-out sentences it got wrong only with `--errors` (they are test data, not calls).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from qa.sentiment import LABELS, SentimentBackend, load_sentiment

REPO = Path(__file__).resolve().parents[2]
HELDOUT_DIR = REPO / "tests" / "data" / "sentiment"
SAMPLES_DIR = REPO / "sample_audio"


@dataclass
class SentimentEval:
    backend: str
    language: str
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    confusion: list[list[int]]  # rows = true label, columns = predicted, both in LABELS order
    seconds_per_utterance: float
    errors: list[dict[str, Any]] = field(default_factory=list)  # text, label, predicted, score, note

    def summary(self) -> dict[str, Any]:
        """The figures without the error list (safe to store or print)."""
        d = asdict(self)
        d.pop("errors")
        return d


def heldout_path(language: str) -> Path:
    return HELDOUT_DIR / f"heldout_{language}.jsonl"


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """JSON lines with at least `text` and `label`."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                if rec.get("label") not in LABELS:
                    raise ValueError(f"{path}: label {rec.get('label')!r} not in {LABELS}")
                records.append(rec)
    return records


def reference_records(samples_dir: str | Path = SAMPLES_DIR, language: str | None = None) -> list[dict[str, Any]]:
    """Per-turn labelled utterances of the sample calls' reference scripts (with role and call id)."""
    records = []
    for path in sorted(Path(samples_dir, "reference").glob("*.json")):
        call = json.loads(path.read_text(encoding="utf-8"))
        if language and call.get("language") != language:
            continue
        for turn in call.get("turns", []):
            records.append({"text": turn["text"], "label": turn["sentiment"], "note": turn["role"],
                            "role": turn["role"], "start": turn.get("start_s", 0.0), "call_id": call["call_id"]})
    return records


def evaluate_sentiment(backend: SentimentBackend, path_or_records: str | Path | Iterable[dict[str, Any]],
                       language: str) -> SentimentEval:
    """Classify every record in one batch and score it against its `label`."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    records = load_records(path_or_records) if isinstance(path_or_records, (str, Path)) else list(path_or_records)
    if not records:
        raise ValueError("no records to evaluate")
    texts = [r["text"] for r in records]
    truth = [r["label"] for r in records]
    backend.predict(texts[:1], language)  # load the model outside the timed run
    t0 = time.perf_counter()
    preds = backend.predict(texts, language)
    per_utt = (time.perf_counter() - t0) / len(texts)
    guess = [p.label for p in preds]
    prec, rec, f1, sup = precision_recall_fscore_support(truth, guess, labels=list(LABELS), zero_division=0)
    errors = [{"text": r["text"], "label": r["label"], "predicted": p.label, "score": round(p.score, 3),
               "note": r.get("note", "")} for r, p in zip(records, preds) if p.label != r["label"]]
    return SentimentEval(
        backend=backend.name,
        language=language,
        n=len(records),
        accuracy=float(accuracy_score(truth, guess)),
        macro_f1=float(f1_score(truth, guess, labels=list(LABELS), average="macro", zero_division=0)),
        per_class={lab: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]), "support": int(sup[i])}
                   for i, lab in enumerate(LABELS)},
        confusion=confusion_matrix(truth, guess, labels=list(LABELS)).tolist(),
        seconds_per_utterance=per_utt,
        errors=errors,
    )


def anchor_cv(language: str, embedding_model: str = "bundled:e5-small", c_values: Iterable[float] = (1, 10, 100, 300),
              folds: int = 5, repeats: int = 3, seed: int = 0) -> list[dict[str, Any]]:
    """Development split: repeated stratified k-fold over the anchors of `language`, comparing
    k-nearest anchors, per-label centroids and logistic regression (accuracy, macro-F1, log-loss)."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss
    from sklearn.model_selection import RepeatedStratifiedKFold

    from qa.embeddings import get_embedder
    from qa.sentiment.anchors import embed_anchors, fit_classifier, load_anchors

    anchors = load_anchors(language)
    X = embed_anchors(get_embedder(embedding_model), embedding_model, anchors)
    y = np.array([LABELS.index(label) for label in anchors.labels])

    def knn(k: int):
        def run(xtr, ytr, xte):
            sims = xte @ xtr.T
            top = np.argsort(-sims, axis=1)[:, :k]
            p = np.zeros((len(xte), 3))
            for i, row in enumerate(top):
                np.add.at(p[i], ytr[row], np.exp((sims[i, row] - sims[i, row].max()) / 0.02))
            return p / p.sum(1, keepdims=True)
        return run

    def centroid(xtr, ytr, xte):
        c = np.stack([xtr[ytr == k].mean(0) for k in range(3)])
        s = xte @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T
        e = np.exp((s - s.max(1, keepdims=True)) / 0.01)
        return e / e.sum(1, keepdims=True)

    def logreg(c: float):
        return lambda xtr, ytr, xte: fit_classifier(xtr, [LABELS[i] for i in ytr], c).predict_proba(xte)

    methods: dict[str, Any] = {"1-nn": knn(1), "5-nn": knn(5), "9-nn": knn(9), "centroid": centroid}
    methods.update({f"logreg C={c:g}": logreg(c) for c in c_values})
    rows = []
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    for name, run in methods.items():
        acc, f1, ll = [], [], []
        for tr, te in splitter.split(X, y):
            p = run(X[tr], y[tr], X[te])
            guess = p.argmax(1)
            acc.append(accuracy_score(y[te], guess))
            f1.append(f1_score(y[te], guess, average="macro"))
            ll.append(log_loss(y[te], np.clip(p, 1e-6, 1), labels=[0, 1, 2]))
        rows.append({"language": language, "method": name, "accuracy": float(np.mean(acc)),
                     "macro_f1": float(np.mean(f1)), "log_loss": float(np.mean(ll))})
    return rows


def eval_call_summaries(backend: SentimentBackend, samples_dir: str | Path = SAMPLES_DIR) -> list[dict[str, Any]]:
    """Per sample call: customer trajectory and agent tone from the backend's sentiments vs the same
    summary computed from the reference labels (as polarity -1 / 0 / +1). No texts in the rows."""
    from qa.sentiment import Sentiment
    from qa.sentiment.summary import summarise

    gold_polarity = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
    calls: dict[str, list[dict[str, Any]]] = {}
    for rec in reference_records(samples_dir):
        calls.setdefault(rec["call_id"], []).append(rec)
    rows = []
    for call_id, recs in calls.items():
        language = json.loads(Path(samples_dir, "reference", f"{call_id}.json").read_text(encoding="utf-8"))["language"]
        roles, starts = [r["role"] for r in recs], [r["start"] for r in recs]
        pred = summarise(roles, starts, backend.predict([r["text"] for r in recs], language))
        gold = summarise(roles, starts, [Sentiment(r["label"], 1.0, gold_polarity[r["label"]]) for r in recs])
        rows.append({"call": call_id, "language": language,
                     "trajectory": pred.customer_trajectory, "trajectory_ref": gold.customer_trajectory,
                     "agent_tone": pred.agent_tone, "agent_tone_ref": gold.agent_tone,
                     "customer_start": pred.customer_start, "customer_end": pred.customer_end})
    return rows


def eval_sentiment_suite(spec: str = "anchors", embedding_model: str = "bundled:e5-small",
                         languages: Iterable[str] = ("tr", "en"), samples_dir: str | Path | None = SAMPLES_DIR,
                         backend: SentimentBackend | None = None) -> list[dict[str, Any]]:
    """Held-out (and sample-call reference) figures per language, one row each, no texts: for the
    eval harness."""
    backend = backend or load_sentiment(spec, embedding_model)
    if backend is None:
        return []
    rows = []
    for lang in languages:
        sets = [("heldout", heldout_path(lang))]
        if samples_dir is not None and Path(samples_dir, "reference").is_dir():
            sets.append(("sample_calls", reference_records(samples_dir, lang)))
        for set_name, data in sets:
            if isinstance(data, list) and not data:
                continue
            res = evaluate_sentiment(backend, data, lang)
            rows.append({"set": set_name, **res.summary()})
    return rows


def _fmt_rows(rows: list[dict[str, Any]]) -> str:
    lines = ["| set | lang | n | accuracy | macro-F1 | recall neg/neu/pos | ms/utt |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        rec = "/".join(f"{r['per_class'][lab]['recall']:.2f}" for lab in LABELS)
        lines.append(f"| {r['set']} | {r['language']} | {r['n']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {rec} "
                     f"| {r['seconds_per_utterance'] * 1000:.0f} |")
    for r in rows:
        lines.append(f"\nconfusion {r['set']} {r['language']} (rows true, cols predicted: neg neu pos): {r['confusion']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="anchors")
    ap.add_argument("--embedding-model", default="bundled:e5-small")
    ap.add_argument("--languages", nargs="+", default=["tr", "en"])
    ap.add_argument("--cv", action="store_true", help="also run the anchor development split")
    ap.add_argument("--errors", action="store_true", help="list the held-out sentences classified wrongly")
    ap.add_argument("--no-samples", action="store_true", help="skip the sample-call reference turns")
    args = ap.parse_args(argv)
    if args.cv:
        for lang in args.languages:
            for r in anchor_cv(lang, args.embedding_model):
                print(f"cv {r['language']} {r['method']:14s} acc {r['accuracy']:.3f} macro-F1 {r['macro_f1']:.3f} "
                      f"log-loss {r['log_loss']:.3f}")
    backend = load_sentiment(args.spec, args.embedding_model)
    print(_fmt_rows(eval_sentiment_suite(args.spec, args.embedding_model, args.languages,
                                         None if args.no_samples else SAMPLES_DIR, backend=backend)))
    if backend is not None and not args.no_samples:
        calls = eval_call_summaries(backend)
        traj = sum(r["trajectory"] == r["trajectory_ref"] for r in calls)
        tone = sum(r["agent_tone"] == r["agent_tone_ref"] for r in calls)
        print(f"\nsample calls: trajectory agrees with the reference labels in {traj}/{len(calls)}, "
              f"agent tone in {tone}/{len(calls)}")
        for r in calls:
            print(f"  {r['call']:16s} trajectory {r['trajectory']} (ref {r['trajectory_ref']}), "
                  f"agent tone {r['agent_tone']} (ref {r['agent_tone_ref']})")
    if args.errors and backend is not None:
        for lang in args.languages:
            for e in evaluate_sentiment(backend, heldout_path(lang), lang).errors:
                print(f"{lang} true={e['label']:8s} pred={e['predicted']:8s} p={e['score']:.2f} [{e['note']}] {e['text']}")


if __name__ == "__main__":
    main()
