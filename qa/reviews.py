"""Reviewer overrides of rubric item results, kept in their own DuckDB file beside the store.

A reviewer sets an item's outcome (pass / fail / na) with their name and an optional
comment. Reviews are stored beside the automatic results, never over them, keyed by call
id, rubric id + version and item id, with a timestamp; every review is kept (history) and
the latest per item wins in the displayed score.

Why a separate file (`<store>.reviews.duckdb`): DuckDB allows one writing process per file,
and the nightly batch holds the store's write lock for each call it saves. Reviewers
writing into the store would wait on (and delay) the batch; in their own file, written
only by dashboard processes through short connections with retry, they never contend with
the batch at all. The dashboard reads both files.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from qa.rubric.engine import CallScore, ItemResult, aggregate
from qa.rubric.schema import Rubric
from qa.store import Store, sibling_path

OUTCOMES = ("pass", "fail", "na")
REVIEW_DDL = """CREATE TABLE IF NOT EXISTS reviews (
    review_id VARCHAR PRIMARY KEY, call_id VARCHAR NOT NULL, rubric_id VARCHAR NOT NULL,
    rubric_version VARCHAR NOT NULL, item_id VARCHAR NOT NULL, outcome VARCHAR NOT NULL,
    reviewer VARCHAR NOT NULL, comment VARCHAR, created_at TIMESTAMPTZ NOT NULL)"""
_COLUMNS = "review_id, call_id, rubric_id, rubric_version, item_id, outcome, reviewer, comment, created_at"


class ReviewError(ValueError):
    """A review that cannot be saved as given (the message says why)."""


@dataclass(frozen=True)
class Review:
    review_id: str
    call_id: str
    rubric_id: str
    rubric_version: str
    item_id: str
    outcome: str
    reviewer: str
    comment: str | None
    created_at: datetime


def reviews_path(db: str | Path) -> Path:
    """`callqa.duckdb` -> `callqa.reviews.duckdb` (same folder)."""
    return sibling_path(db, "reviews")


def new_review(
    call_id: str, rubric_id: str, rubric_version: str, item_id: str, outcome: str, reviewer: str,
    comment: str | None = None,
) -> Review:
    """A checked review, not saved yet (`ReviewError` says what is wrong)."""
    outcome = (outcome or "").strip().lower()
    if outcome not in OUTCOMES:
        raise ReviewError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ReviewError("a review needs the reviewer's name")
    return Review(uuid.uuid4().hex, call_id, str(rubric_id), str(rubric_version), item_id, outcome, reviewer,
                  (comment or "").strip() or None, datetime.now(timezone.utc))


def insert_review(con, review: Review) -> None:
    """Append the review on an open write connection to the reviews file (its table in place)."""
    con.execute(f"INSERT INTO reviews ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        review.review_id, review.call_id, review.rubric_id, review.rubric_version, review.item_id,
        review.outcome, review.reviewer, review.comment, review.created_at])


class ReviewStore:
    """The reviews file of the store at `db`, through short-lived connections with lock retry."""

    def __init__(self, db: str | Path, timeout_s: float = 20.0):
        self.path = reviews_path(db)
        self.store = Store(self.path, timeout_s=timeout_s, read_timeout_s=timeout_s)

    def save(
        self, call_id: str, rubric_id: str, rubric_version: str, item_id: str, outcome: str, reviewer: str,
        comment: str | None = None,
    ) -> Review:
        """Record one review (a new row; earlier reviews of the item stay as history)."""
        review = new_review(call_id, rubric_id, rubric_version, item_id, outcome, reviewer, comment)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.store.connect() as con:
            con.execute(REVIEW_DDL)
            insert_review(con, review)
        return review

    def _select(self, where: str = "", params: list | None = None) -> list[Review]:
        if not self.path.is_file():
            return []
        try:
            rows = self.store.query(f"SELECT {_COLUMNS} FROM reviews {where} ORDER BY created_at DESC", params)
        except Exception as exc:  # the file exists but no review was saved yet
            if "reviews" in str(exc) and "does not exist" in str(exc):
                return []
            raise
        return [Review(*r) for r in rows]

    def history(self, call_id: str | None = None) -> list[Review]:
        """Every review (of one call, or all), newest first."""
        return self._select("WHERE call_id = ?", [call_id]) if call_id else self._select()

    def latest(self, call_id: str, rubric_id: str, rubric_version: str) -> dict[str, Review]:
        """The latest review per item of one scoring of a call."""
        out: dict[str, Review] = {}
        for r in self._select("WHERE call_id = ? AND rubric_id = ? AND rubric_version = ?",
                              [call_id, str(rubric_id), str(rubric_version)]):
            out.setdefault(r.item_id, r)  # newest first: keep the first seen
        return out

    def latest_all(self) -> dict[tuple[str, str, str], dict[str, Review]]:
        """(call_id, rubric_id, rubric_version) -> item id -> latest review, over every call."""
        out: dict[tuple[str, str, str], dict[str, Review]] = {}
        for r in self._select():
            out.setdefault((r.call_id, r.rubric_id, r.rubric_version), {}).setdefault(r.item_id, r)
        return out


def rubric_weights(rubric: Rubric) -> dict[str, float]:
    """Item id -> the item's weight (what a passed item scores)."""
    return {item.id: item.weight for _, item in rubric.items()}


def apply_reviews(
    rubric: Rubric | None, items: list[ItemResult], reviews: dict[str, Review], weights: dict[str, float] | None = None,
) -> list[ItemResult]:
    """The item results with each reviewed item's outcome (and score) set by its latest review.

    A passed item scores its rubric weight; without the rubric file (`rubric` None) the weight
    comes from `weights`, else the stored maximum, else 1. The only place reviews change a result:
    every read (`qa.access.effective`) goes through here.
    """
    weights = rubric_weights(rubric) if rubric is not None else dict(weights or {})
    out = []
    for r in items:
        review = reviews.get(r.item_id)
        if review is None:
            out.append(r)
            continue
        weight = weights.get(r.item_id) or r.max_score or 1.0
        score = weight if review.outcome == "pass" else 0.0
        out.append(replace(
            r, outcome=review.outcome, score=score, max_score=0.0 if review.outcome == "na" else weight,
            reason=review.comment or f"set to {review.outcome} by {review.reviewer}", source="reviewer",
        ))
    return out


def reviewed_score(rubric: Rubric, items: list[ItemResult], reviews: dict[str, Review]) -> CallScore:
    """The call's score with the reviewers' outcomes (the engine's own arithmetic)."""
    return aggregate(rubric, apply_reviews(rubric, items, reviews))
