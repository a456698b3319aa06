"""The one place reviewer overrides meet automatic results: "latest score with reviewer overrides".

A call's effective scoring is its latest stored scoring (by `scored_at`, then rubric id, then
the highest version); a reviewed item's effective outcome is its latest review's
(`qa.reviews.apply_reviews`), and a reviewed call's score is recomputed from those outcomes
with the rubric engine's arithmetic (`qa.rubric.engine.aggregate`). Every listing, page,
aggregate and CLI table reads scores through these functions, so they cannot disagree.

Reviews are few, automatic results many: aggregates count the unreviewed scorings in SQL and
pass only the reviewed scorings through Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from qa.reviews import Review, apply_reviews
from qa.rubric.engine import CallScore, ItemResult, aggregate
from qa.rubric.schema import Rubric

Key = tuple[str, str, str]  # (call_id, rubric_id, rubric_version)

# A call's scorings `s`, latest first: the first is the one every figure uses.
LATEST_FIRST = "s.scored_at DESC, s.rubric_id, s.rubric_version DESC"
# Over the `visible` CTE (the viewer's calls): each call's latest scoring, and its automatic item results.
LATEST_CTE = f"""latest AS (
    SELECT s.* FROM call_scores s JOIN visible v ON v.call_id = s.call_id
    QUALIFY row_number() OVER (PARTITION BY s.call_id ORDER BY {LATEST_FIRST}) = 1)"""
AUTO_ITEMS_CTE = """auto_items AS (
    SELECT i.* FROM item_results i
    JOIN latest l ON i.call_id = l.call_id AND i.rubric_id = l.rubric_id AND i.rubric_version = l.rubric_version
    WHERE i.source = 'auto')"""
ITEM_RESULT_FIELDS = ("section_id", "item_id", "outcome", "score", "max_score", "critical", "method", "reason")


@dataclass
class Overlay:
    """The latest review per item of the scorings a viewer can see, and the rubrics to score them."""

    reviews: dict[Key, dict[str, Review]] = field(default_factory=dict)
    rubric: Callable[[str, str], Rubric | None] = lambda rid, ver: None

    def covers(self, key: Key) -> bool:
        return key in self.reviews

    def keys(self) -> list[Key]:
        return list(self.reviews)

    def items(self, key: Key, results: list[ItemResult]) -> list[ItemResult]:
        """`results` with the key's reviews applied (unchanged when nobody reviewed it)."""
        reviews = self.reviews.get(key)
        if not reviews:
            return results
        weights = {r.item_id: r.max_score for r in results if r.max_score}
        return apply_reviews(self.rubric(key[1], key[2]), results, reviews, weights)

    def score(self, key: Key, results: list[ItemResult]) -> CallScore | None:
        """The reviewed score of a scoring (None: not reviewed, or its rubric file is gone)."""
        rubric = self.rubric(key[1], key[2])
        if key not in self.reviews or rubric is None:
            return None
        return aggregate(rubric, self.items(key, results))


def to_results(rows: pd.DataFrame) -> dict[Key, list[ItemResult]]:
    """Item-result rows (with call_id, rubric_id, rubric_version) grouped into ItemResults per scoring."""
    out: dict[Key, list[ItemResult]] = {}
    for r in rows.itertuples(index=False):
        out.setdefault((str(r.call_id), str(r.rubric_id), str(r.rubric_version)), []).append(ItemResult(
            r.section_id, r.item_id, r.outcome, float(r.score or 0), float(r.max_score or 0), bool(r.critical),
            r.method or "", r.reason or ""))
    return out


def overlay_items(items: pd.DataFrame, overlay: Overlay) -> pd.DataFrame:
    """Item rows with reviewed items set by their latest review; `auto_outcome`, `review_comment` added."""
    items = items.copy()
    items["auto_outcome"] = items["outcome"]
    items["review_comment"] = None
    if items.empty or not overlay.reviews:
        return items
    # only the rows of reviewed calls are looked at (a period's items are many, its reviews few)
    if not items["call_id"].astype(str).isin({k[0] for k in overlay.reviews}).any():
        return items
    items = items.astype({"source": object, "reviewer": object, "reason": object, "created_at": object,
                          "outcome": object})
    sub = items[items["call_id"].astype(str).isin({k[0] for k in overlay.reviews})]
    grouped = to_results(sub)
    for key, results in grouped.items():
        reviews = overlay.reviews.get(key)
        if not reviews:
            continue
        applied = {r.item_id: r for r in overlay.items(key, results)}
        mask = (sub["call_id"].astype(str) == key[0]) & (sub["rubric_id"].astype(str) == key[1]) & (
            sub["rubric_version"].astype(str) == key[2])
        for i in sub.index[mask]:
            item_id = items.at[i, "item_id"]
            review = reviews.get(item_id)
            if review is None:
                continue
            r = applied[item_id]
            items.at[i, "outcome"], items.at[i, "score"], items.at[i, "max_score"] = r.outcome, r.score, r.max_score
            items.at[i, "source"], items.at[i, "reason"] = "reviewer", r.reason
            items.at[i, "reviewer"], items.at[i, "review_comment"] = review.reviewer, review.comment
            items.at[i, "created_at"] = review.created_at
    return items


def overlay_calls(calls: pd.DataFrame, overlay: Overlay, auto_items: dict[Key, list[ItemResult]]) -> pd.DataFrame:
    """Call rows (latest scoring) of reviewed scorings get the reviewed score; the automatic one kept aside."""
    calls = calls.copy()
    calls["reviewed"] = False
    calls["auto_score_pct"] = calls["score_pct"]
    if calls.empty or not overlay.reviews:
        return calls
    calls = calls.astype({"band": object, "auto_fail_reason": object, "auto_failed": object, "failed_items": object})
    keys = [(str(c), str(r), str(v)) for c, r, v in zip(calls["call_id"], calls["rubric_id"], calls["rubric_version"])]
    for i, key in zip(calls.index, keys):
        if not overlay.covers(key):
            continue
        results = overlay.items(key, auto_items.get(key, []))
        score = overlay.score(key, auto_items.get(key, []))
        calls.at[i, "failed_items"] = sum(r.outcome == "fail" for r in results)
        calls.at[i, "reviewed"] = True
        if score is not None:
            calls.at[i, "score_pct"], calls.at[i, "band"] = score.score_pct, score.band
            calls.at[i, "auto_failed"], calls.at[i, "auto_fail_reason"] = score.auto_failed, score.reason
    return calls


def count_outcomes(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """applicable / passed / failed / na counts (and any critical) of item rows, grouped by `by`."""
    cols = [*by, "critical", "applicable", "passed", "failed", "na"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    rows = rows.assign(
        applicable=rows["outcome"].isin(["pass", "fail"]).astype(int), passed=(rows["outcome"] == "pass").astype(int),
        failed=(rows["outcome"] == "fail").astype(int), na=(rows["outcome"] == "na").astype(int),
        critical=rows["critical"].fillna(False).astype(bool))
    g = rows.groupby(by, sort=False, dropna=False)
    out = g[["applicable", "passed", "failed", "na"]].sum()
    out["critical"] = g["critical"].any()
    return out.reset_index()[cols]


def sum_counts(counts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Outcome counts summed over the rows that share `by` (critical: any)."""
    g = counts.groupby(by, sort=False, dropna=False)
    out = g[["applicable", "passed", "failed", "na"]].sum()
    out["critical"] = g["critical"].any()
    return out.reset_index()[[*by, "critical", "applicable", "passed", "failed", "na"]]


def add_counts(sql_counts: pd.DataFrame, reviewed: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Counts of unreviewed scorings (from SQL) plus counts of reviewed ones (from Python)."""
    if reviewed.empty:
        return sql_counts
    return sum_counts(pd.concat([sql_counts, reviewed], ignore_index=True), by)


def as_int(value: Any) -> int:
    return 0 if value is None or value != value else int(value)
