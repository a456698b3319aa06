"""Read-only data access for the dashboard: typed queries over the DuckDB store.

Every query goes through `qa.store.Store.query_df`, which opens a short read-only
connection, fetches everything and closes it, so the nightly batch can keep writing.
A missing file or a file without the schema reads as "no calls yet" (empty frames with
the expected columns), never as an exception. Nothing here imports Streamlit or models.

"Effective" item results: of a call's scores we show the latest (by `scored_at`), and for
each item a reviewer's row wins over the automatic one. Reviews saved from the dashboard
live in their own file (`qa.reviews`, `<db>.reviews.duckdb`), so saving one never waits on
the nightly batch; their latest outcome per item is laid over the store's rows here, and
the call's score recomputed with the rubric engine's arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from dashboards.fmt import flag, is_missing
from dashboards.rubric_info import default_rubric_dir, rubric_info
from qa.reviews import Review, ReviewStore, apply_reviews, reviewed_score
from qa.rubric.engine import CallScore, ItemResult, aggregate
from qa.rubric.schema import Rubric, RubricError, find_rubric, load_rubric
from qa.store import Store, StoreBusy

DEFAULT_DB = "callqa.duckdb"
STORE_TIMEOUT_S = 20.0

CALL_COLUMNS = [
    "call_id", "agent_key", "agent_id", "agent_name", "started_at", "duration_s", "language", "channels",
    "direction", "queue", "score_pct", "band", "auto_failed", "auto_fail_reason", "rubric_id",
    "rubric_version", "failed_items", "status", "error", "error_stage", "source_path", "processed_at",
    "role_confidence", "reviewed", "auto_score_pct",
]
UTTERANCE_COLUMNS = ["idx", "speaker", "speaker_role", "start_s", "end_s", "text", "confidence"]
ITEM_COLUMNS = [
    "call_id", "rubric_id", "rubric_version", "section_id", "item_id", "outcome", "score", "max_score",
    "critical", "method", "similarity", "reason", "evidence_text", "evidence_speaker", "evidence_start_s",
    "evidence_end_s", "source", "reviewer", "created_at", "auto_outcome", "review_comment",
]
ITEM_DISPLAY_COLUMNS = ["title", "section_title", "coaching", "order"]
SCORE_COLUMNS = ["rubric_id", "rubric_version", "score_pct", "auto_failed", "band", "reason", "sections", "scored_at"]
FAILURE_COLUMNS = ["failed_at", "call_id", "source_path", "stage", "error"]
REVIEW_COLUMNS = ["created_at", "reviewer", "rubric_id", "rubric_version", "item_id", "outcome", "comment"]
AGENT_COLUMNS = ["agent_key", "agent", "calls", "scored", "avg_score", "auto_failed", "needs_coaching", "last_call"]
ITEM_RATE_COLUMNS = [
    "rubric_id", "section_id", "item_id", "title", "section_title", "critical", "applicable", "passed",
    "failed", "na", "pass_rate", "coaching",
]

# Latest score per call, and its automatic item results. Reviewers' outcomes live in a separate
# file (qa.reviews) and are laid over these in Python; item_results rows are unique per
# (call, rubric, version, item) because a re-save deletes the old ones, so a plain join does
# (a per-item window here cost 1.2 s of a 100k-call list, benchmarks/bench_store.py).
_LATEST = """latest AS (
    SELECT * FROM call_scores
    QUALIFY row_number() OVER (PARTITION BY call_id ORDER BY scored_at DESC, rubric_id, rubric_version DESC) = 1)"""
_EFFECTIVE = """effective AS (
    SELECT i.* FROM item_results i
    JOIN latest l ON i.call_id = l.call_id AND i.rubric_id = l.rubric_id AND i.rubric_version = l.rubric_version
    WHERE i.source = 'auto')"""


@dataclass(frozen=True)
class StoreStatus:
    """Whether there is anything to show: state missing | empty | ok | busy | error."""

    state: Literal["missing", "empty", "ok", "busy", "error"]
    path: str
    calls_ok: int = 0
    calls_failed: int = 0
    message: str = ""


@dataclass(frozen=True)
class CallFilter:
    """Calls-table filters; None (or an empty list) means "don't filter on this"."""

    agents: Sequence[str] | None = None  # agent keys (agent_id, else agent_name)
    date_from: date | None = None
    date_to: date | None = None
    languages: Sequence[str] | None = None
    bands: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    min_score: float | None = None
    max_score: float | None = None
    text: str | None = None


@dataclass(frozen=True)
class Totals:
    """Headline numbers over a set of calls."""

    calls: int
    ok: int
    failed: int
    avg_score: float | None
    auto_failed: int
    needs_coaching: int


@dataclass
class CallDetail:
    """One call row with its JSON columns parsed."""

    row: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def resolve_db_path(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """`--db PATH` from the script arguments, else `CALLQA_DB`, else `callqa.duckdb`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    args, _ = parser.parse_known_args(list(argv or []))
    env = os.environ if env is None else env
    return Path(args.db or env.get("CALLQA_DB") or DEFAULT_DB).expanduser()


def _store(db: str | Path) -> Store:
    return Store(db, timeout_s=STORE_TIMEOUT_S, read_timeout_s=STORE_TIMEOUT_S)


def _frame(db: str | Path, sql: str, params: list[Any] | None, columns: list[str]) -> pd.DataFrame:
    """Run a query; a missing file or missing tables give an empty frame with `columns`."""
    if not Path(db).is_file():
        return pd.DataFrame(columns=columns)
    try:
        df = _store(db).query_df(sql, params)
    except duckdb.CatalogException:
        return pd.DataFrame(columns=columns)
    return df if len(df.columns) else pd.DataFrame(columns=columns)


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (None if is_missing(v) else v) for k, v in record.items()}


def store_status(db: str | Path) -> StoreStatus:
    """Is there a store at `db`, does it hold calls? Never raises for a bad file."""
    path = str(db)
    if not Path(db).is_file():
        return StoreStatus("missing", path, message=f"no database at {path}")
    try:
        rows = _store(db).query("SELECT status, count(*) FROM calls GROUP BY status")
    except duckdb.CatalogException:
        return StoreStatus("empty", path, message=f"{path} has no calls table yet")
    except StoreBusy as exc:
        return StoreStatus("busy", path, message=str(exc))
    except Exception as exc:  # not a DuckDB file, newer format, locked for too long ...
        return StoreStatus("error", path, message=f"cannot read {path}: {exc}")
    counts = {status: n for status, n in rows}
    ok, failed = int(counts.get("ok", 0)), int(counts.get("failed", 0))
    return StoreStatus("ok" if ok or failed else "empty", path, ok, failed)


def agent_display(agent_id: Any, agent_name: Any) -> str:
    """`Name (id)`, or whichever is known, or `–`."""
    aid = None if is_missing(agent_id) else str(agent_id)
    name = None if is_missing(agent_name) else str(agent_name)
    if aid and name:
        return f"{name} ({aid})"
    return name or aid or "–"


def list_calls(db: str | Path) -> pd.DataFrame:
    """All calls, newest first, with their latest score and the number of failed items."""
    sql = f"""WITH {_LATEST}, {_EFFECTIVE},
    fails AS (SELECT call_id, count(*) FILTER (WHERE outcome = 'fail') AS failed_items FROM effective GROUP BY call_id)
    SELECT c.call_id, coalesce(c.agent_id, c.agent_name) AS agent_key, c.agent_id, c.agent_name, c.started_at,
           c.duration_s, c.language, c.channels, c.direction, c.queue, l.score_pct, l.band, l.auto_failed,
           l.reason AS auto_fail_reason, l.rubric_id, l.rubric_version,
           CASE WHEN l.call_id IS NULL THEN NULL ELSE coalesce(f.failed_items, 0) END AS failed_items,
           c.status, c.error, c.error_stage, c.source_path, c.processed_at, c.role_confidence,
           -- agent_display() in SQL: a Python loop over 100k rows costs ~2 s (benchmarks/bench_store.py)
           coalesce(nullif(c.agent_name, '') || ' (' || nullif(c.agent_id, '') || ')', nullif(c.agent_name, ''),
                    nullif(c.agent_id, ''), '–') AS agent
    FROM calls c LEFT JOIN latest l ON l.call_id = c.call_id LEFT JOIN fails f ON f.call_id = c.call_id
    ORDER BY coalesce(c.started_at, c.processed_at) DESC NULLS LAST, c.call_id"""
    df = _frame(db, sql, None, [*CALL_COLUMNS, "agent"])
    return _with_review_scores(db, df)


def filter_calls(calls: pd.DataFrame, f: CallFilter) -> pd.DataFrame:
    """Apply `f` to a `list_calls` frame. A score or date bound drops calls without one."""
    keep = pd.Series(True, index=calls.index)
    if f.agents:
        keep &= calls["agent_key"].isin(list(f.agents))
    if f.date_from is not None or f.date_to is not None:
        started = pd.to_datetime(calls["started_at"], errors="coerce")
        days = started.map(lambda t: None if is_missing(t) else t.date())
        keep &= days.notna()
        if f.date_from is not None:
            keep &= days.map(lambda d: d is not None and d >= f.date_from)
        if f.date_to is not None:
            keep &= days.map(lambda d: d is not None and d <= f.date_to)
    if f.languages:
        keep &= calls["language"].isin(list(f.languages))
    if f.bands:
        keep &= calls["band"].isin(list(f.bands))
    if f.statuses:
        keep &= calls["status"].isin(list(f.statuses))
    score = pd.to_numeric(calls["score_pct"], errors="coerce")
    if f.min_score is not None:
        keep &= score >= f.min_score
    if f.max_score is not None:
        keep &= score <= f.max_score
    if f.text and f.text.strip():
        needle = f.text.strip().casefold()
        hay = (
            calls["call_id"].astype(str) + " " + calls["agent_id"].fillna("").astype(str) + " "
            + calls["agent_name"].fillna("").astype(str)
        )
        keep &= hay.map(lambda s: needle in s.casefold())
    return calls[keep.astype(bool)]


def call_totals(calls: pd.DataFrame) -> Totals:
    """Counts and the mean score (over scored calls) of a calls frame."""
    score = pd.to_numeric(calls["score_pct"], errors="coerce").dropna()
    return Totals(
        calls=len(calls),
        ok=int((calls["status"] == "ok").sum()),
        failed=int((calls["status"] == "failed").sum()),
        avg_score=round(float(score.mean()), 1) if len(score) else None,
        auto_failed=int(calls["auto_failed"].fillna(False).astype(bool).sum()),
        needs_coaching=int((calls["band"] == "needs_coaching").sum()),
    )


def get_call(db: str | Path, call_id: str) -> CallDetail | None:
    """The call's row (None values for SQL NULLs) and its parsed metadata/stats JSON."""
    df = _frame(db, "SELECT * FROM calls WHERE call_id = ?", [call_id], [])
    if df.empty:
        return None
    row = _clean(df.iloc[0].to_dict())
    parsed = []
    for key in ("metadata_json", "stats_json"):
        try:
            value = json.loads(row.get(key) or "{}")
        except (TypeError, json.JSONDecodeError):
            value = {}
        parsed.append(value if isinstance(value, dict) else {})
    return CallDetail(row, parsed[0], parsed[1])


def get_utterances(db: str | Path, call_id: str) -> pd.DataFrame:
    """The call's utterances in time order."""
    sql = f"SELECT {', '.join(UTTERANCE_COLUMNS)} FROM utterances WHERE call_id = ? ORDER BY start_s, idx"
    return _frame(db, sql, [call_id], UTTERANCE_COLUMNS)


def get_scores(db: str | Path, call_id: str) -> pd.DataFrame:
    """Every score stored for the call (one per rubric id + version), latest first."""
    sql = """SELECT rubric_id, rubric_version, score_pct, auto_failed, band, reason, sections_json, scored_at
             FROM call_scores WHERE call_id = ? ORDER BY scored_at DESC, rubric_id, rubric_version DESC"""
    df = _frame(db, sql, [call_id], [*SCORE_COLUMNS[:-2], "sections_json", "scored_at"])
    df["sections"] = [_sections(s) for s in df["sections_json"]]
    return df[SCORE_COLUMNS]


def _sections(text: Any) -> dict[str, float | None]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def section_titles(rubric_id: str | None, rubric_dir: str | Path | None = None) -> dict[str, str]:
    """Section id -> title from the rubric file ({} when the file is gone)."""
    info = rubric_info(rubric_id, rubric_dir)
    return dict(info.sections) if info else {}


def with_rubric_titles(items: pd.DataFrame, rubric_dir: str | Path | None = None) -> pd.DataFrame:
    """Add title, section_title, coaching and rubric order; ids stand in when the rubric is gone."""
    items = items.copy()
    titles, sections, coaching, order = [], [], [], []
    for n, (rid, sid, iid) in enumerate(zip(items["rubric_id"], items["section_id"], items["item_id"])):
        info = rubric_info(rid, rubric_dir)
        item = info.items.get(iid) if info else None
        titles.append(item.title if item else str(iid))
        sections.append(info.section_title(sid) if info else str(sid))
        coaching.append(item.coaching if item else "")
        order.append(item.order if item else 10_000 + n)
    items["title"], items["section_title"], items["coaching"], items["order"] = titles, sections, coaching, order
    return items


def get_item_results(
    db: str | Path,
    call_id: str,
    rubric_id: str | None = None,
    rubric_version: str | None = None,
    rubric_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Effective item results of one scoring of the call (default: its latest), in rubric order."""
    if rubric_id is None or rubric_version is None:
        scores = get_scores(db, call_id)
        if scores.empty:
            return pd.DataFrame(columns=ITEM_COLUMNS + ITEM_DISPLAY_COLUMNS)
        rubric_id, rubric_version = scores.iloc[0]["rubric_id"], scores.iloc[0]["rubric_version"]
    sql = f"""SELECT {', '.join(ITEM_COLUMNS[:-2])} FROM item_results
              WHERE call_id = ? AND rubric_id = ? AND rubric_version = ? AND source = 'auto'"""
    items = _frame(db, sql, [call_id, rubric_id, str(rubric_version)], ITEM_COLUMNS[:-2])
    reviews = _reviews(db).latest(call_id, str(rubric_id), str(rubric_version))
    items = _overlay_reviews(items, reviews, _load_rubric(rubric_id, rubric_version, rubric_dir) if reviews else None)
    items = with_rubric_titles(items, rubric_dir)
    return items.sort_values("order", kind="stable").reset_index(drop=True)


def failure_log(db: str | Path, call_id: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Failed processing attempts, newest first (all calls, or one call id)."""
    where = "WHERE call_id = ?" if call_id else ""
    sql = f"SELECT {', '.join(FAILURE_COLUMNS)} FROM failures {where} ORDER BY failed_at DESC LIMIT {int(limit)}"
    return _frame(db, sql, [call_id] if call_id else None, FAILURE_COLUMNS)


def agent_summary(db: str | Path) -> pd.DataFrame:
    """Per agent over processed calls: calls, scored calls, mean score, auto-fails, last call."""
    sql = f"""WITH {_LATEST}
    SELECT coalesce(c.agent_id, c.agent_name) AS agent_key, any_value(c.agent_id) AS agent_id,
           any_value(c.agent_name) AS agent_name, count(*) AS calls, count(l.score_pct) AS scored,
           round(avg(l.score_pct), 1) AS avg_score, count(*) FILTER (WHERE l.auto_failed) AS auto_failed,
           count(*) FILTER (WHERE l.band = 'needs_coaching') AS needs_coaching, max(c.started_at) AS last_call
    FROM calls c LEFT JOIN latest l ON l.call_id = c.call_id
    WHERE c.status = 'ok' AND coalesce(c.agent_id, c.agent_name) IS NOT NULL
    GROUP BY 1 ORDER BY avg_score ASC NULLS LAST, agent_key"""
    df = _frame(db, sql, None, [*AGENT_COLUMNS, "agent_id", "agent_name"])
    if not df.empty and _reviews(db).path.is_file():
        df = _agents_from_calls(list_calls(db))  # reviewed scores change averages and bands
    df["agent"] = [agent_display(a, n) for a, n in zip(df["agent_id"], df["agent_name"])]
    return df[AGENT_COLUMNS]


def _rates_with_reviews(db: str | Path, rates: pd.DataFrame, agent_key: str | None, where: str) -> pd.DataFrame:
    """Move each reviewed item from its effective outcome's count to the reviewer's."""
    latest = _reviews(db).latest_all() if not rates.empty else {}
    if not latest:
        return rates
    sql = f"""WITH {_LATEST}, {_EFFECTIVE}
    SELECT e.call_id, e.rubric_id, e.rubric_version, e.section_id, e.item_id, e.outcome
    FROM effective e JOIN calls c ON c.call_id = e.call_id {where}"""
    effective = _frame(db, sql, [agent_key] if agent_key else None, [])
    rates = rates.copy()
    column = {"pass": "passed", "fail": "failed", "na": "na"}
    index = {(r, s, i): n for n, (r, s, i) in enumerate(zip(rates["rubric_id"], rates["section_id"], rates["item_id"]))}
    for e in effective.itertuples():
        review = latest.get((str(e.call_id), str(e.rubric_id), str(e.rubric_version)), {}).get(e.item_id)
        row = index.get((e.rubric_id, e.section_id, e.item_id))
        if review is None or row is None or review.outcome == e.outcome:
            continue
        i = rates.index[row]
        rates.at[i, column[e.outcome]] -= 1
        rates.at[i, column[review.outcome]] += 1
        rates.at[i, "applicable"] += (review.outcome != "na") - (e.outcome != "na")
    return rates


def _agents_from_calls(calls: pd.DataFrame) -> pd.DataFrame:
    """`agent_summary` computed from `list_calls` rows (which carry reviewed scores)."""
    ok = calls[(calls["status"] == "ok") & calls["agent_key"].notna()].copy()
    ok["score_pct"] = pd.to_numeric(ok["score_pct"], errors="coerce")
    ok["is_auto_failed"] = ok["auto_failed"].map(flag)
    ok["is_coaching"] = ok["band"] == "needs_coaching"
    g = ok.groupby("agent_key", sort=False)
    df = pd.DataFrame({
        "agent_id": g["agent_id"].first(), "agent_name": g["agent_name"].first(), "calls": g.size(),
        "scored": g["score_pct"].count(), "avg_score": g["score_pct"].mean().round(1),
        "auto_failed": g["is_auto_failed"].sum(), "needs_coaching": g["is_coaching"].sum(),
        "last_call": g["started_at"].max(),
    }).reset_index()
    return df.sort_values(["avg_score", "agent_key"], na_position="last").reset_index(drop=True)


def item_pass_rates(db: str | Path, agent_key: str | None = None, rubric_dir: str | Path | None = None) -> pd.DataFrame:
    """Pass rate per rubric item (over pass+fail; n/a excluded), most-failed first; one agent or all."""
    where = "WHERE coalesce(c.agent_id, c.agent_name) = ?" if agent_key else ""
    sql = f"""WITH {_LATEST}, {_EFFECTIVE}
    SELECT e.rubric_id, e.section_id, e.item_id, bool_or(e.critical) AS critical,
           count(*) FILTER (WHERE e.outcome IN ('pass', 'fail')) AS applicable,
           count(*) FILTER (WHERE e.outcome = 'pass') AS passed,
           count(*) FILTER (WHERE e.outcome = 'fail') AS failed,
           count(*) FILTER (WHERE e.outcome = 'na') AS na
    FROM effective e JOIN calls c ON c.call_id = e.call_id {where}
    GROUP BY 1, 2, 3"""
    df = _frame(db, sql, [agent_key] if agent_key else None, ITEM_RATE_COLUMNS)
    df = _rates_with_reviews(db, df, agent_key, where)
    df["pass_rate"] = [
        round(100.0 * p / a, 1) if a else None for p, a in zip(df["passed"], df["applicable"])
    ]
    df = with_rubric_titles(df, rubric_dir)
    df = df.sort_values(
        ["failed", "critical", "pass_rate", "order"], ascending=[False, False, True, True], na_position="last"
    )
    return df[ITEM_RATE_COLUMNS].reset_index(drop=True)


# --- reviewer overrides (qa.reviews, a separate file beside the store) ------------------------


@lru_cache(maxsize=32)
def _rubric_file(path: str, mtime: float) -> Rubric:
    return load_rubric(path)


def _load_rubric(rubric_id: Any, rubric_version: Any, rubric_dir: str | Path | None) -> Rubric | None:
    """The rubric a scoring used, if its file is there at that version (else None: keep auto scores)."""
    try:
        path = find_rubric(str(rubric_id), Path(rubric_dir) if rubric_dir else default_rubric_dir())
        rubric = _rubric_file(str(path), path.stat().st_mtime)
    except (RubricError, OSError):
        return None
    return rubric if str(rubric.version) == str(rubric_version) else None


def _reviews(db: str | Path) -> ReviewStore:
    return ReviewStore(db, timeout_s=STORE_TIMEOUT_S)


def save_review(
    db: str | Path, call_id: str, rubric_id: str, rubric_version: str, item_id: str, outcome: str, reviewer: str,
    comment: str | None = None,
) -> Review:
    """Store a reviewer's outcome for one item (beside the automatic result; history kept)."""
    return _reviews(db).save(call_id, rubric_id, rubric_version, item_id, outcome, reviewer, comment)


def review_history(db: str | Path, call_id: str) -> pd.DataFrame:
    """Every review of a call, newest first."""
    rows = [{k: getattr(r, k) for k in REVIEW_COLUMNS} for r in _reviews(db).history(call_id)]
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS)


def _overlay_reviews(items: pd.DataFrame, reviews: dict[str, Review], rubric: Rubric | None = None) -> pd.DataFrame:
    """Items with each reviewed item's outcome set by its latest review (the auto outcome kept aside)."""
    items = items.copy()
    items["auto_outcome"] = items["outcome"]
    items["review_comment"] = None
    if not reviews or items.empty:
        return items
    weights = {item.id: item.weight for _, item in rubric.items()} if rubric else {}
    items = items.astype({"source": object, "reviewer": object, "reason": object, "created_at": object})
    for i, item_id in zip(items.index, items["item_id"]):
        review = reviews.get(item_id)
        if review is None:
            continue
        max_score = float(items.at[i, "max_score"] or 0.0) or weights.get(item_id, 1.0)
        items.at[i, "outcome"] = review.outcome
        items.at[i, "score"] = max_score if review.outcome == "pass" else 0.0
        items.at[i, "max_score"] = 0.0 if review.outcome == "na" else max_score
        items.at[i, "source"], items.at[i, "reviewer"] = "reviewer", review.reviewer
        items.at[i, "review_comment"] = review.comment
        items.at[i, "reason"] = review.comment or f"set to {review.outcome} by {review.reviewer}"
        items.at[i, "created_at"] = review.created_at
    return items


def _auto_items(db: str | Path, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[ItemResult]]:
    """Automatic item results of several scorings, in one query."""
    if not keys:
        return {}
    marks = ", ".join(["(?, ?, ?)"] * len(keys))
    rows = _frame(db, f"""SELECT call_id, rubric_id, rubric_version, section_id, item_id, outcome, score, max_score,
                                critical, method, reason FROM item_results
                         WHERE source = 'auto' AND (call_id, rubric_id, rubric_version) IN ({marks})""",
                  [v for k in keys for v in k], [])
    out: dict[tuple[str, str, str], list[ItemResult]] = {}
    for r in rows.itertuples():
        out.setdefault((str(r.call_id), str(r.rubric_id), str(r.rubric_version)), []).append(ItemResult(
            r.section_id, r.item_id, r.outcome, float(r.score or 0), float(r.max_score or 0), bool(r.critical),
            r.method or "", r.reason or ""))
    return out


def reviewed_call_score(
    db: str | Path, call_id: str, rubric_id: str, rubric_version: str, rubric_dir: str | Path | None = None,
    reviews: dict[str, Review] | None = None,
) -> CallScore | None:
    """The call's score with its reviews applied, or None (no reviews, or the rubric file is gone)."""
    reviews = reviews if reviews is not None else _reviews(db).latest(call_id, str(rubric_id), str(rubric_version))
    if not reviews:
        return None
    rubric = _load_rubric(rubric_id, rubric_version, rubric_dir)
    if rubric is None:
        return None
    key = (str(call_id), str(rubric_id), str(rubric_version))
    return reviewed_score(rubric, _auto_items(db, [key]).get(key, []), reviews)


def _with_review_scores(db: str | Path, calls: pd.DataFrame, rubric_dir: str | Path | None = None) -> pd.DataFrame:
    """`list_calls` rows of reviewed calls get their reviewed score (the automatic one kept aside)."""
    calls = calls.copy()
    calls["reviewed"] = False
    calls["auto_score_pct"] = calls["score_pct"]
    if calls.empty:
        return calls
    latest = _reviews(db).latest_all()
    if not latest:
        return calls
    keys = [(str(c), str(r), str(v)) for c, r, v in zip(calls["call_id"], calls["rubric_id"], calls["rubric_version"])]
    items = _auto_items(db, [k for k in keys if k in latest])
    calls = calls.astype({"band": object, "auto_fail_reason": object, "auto_failed": object, "failed_items": object})
    for i, key in zip(calls.index, keys):
        rubric = _load_rubric(key[1], key[2], rubric_dir) if key in latest else None
        if rubric is None:
            continue
        results = apply_reviews(rubric, items.get(key, []), latest[key])
        score = aggregate(rubric, results)
        calls.at[i, "score_pct"], calls.at[i, "band"] = score.score_pct, score.band
        calls.at[i, "auto_failed"], calls.at[i, "auto_fail_reason"] = score.auto_failed, score.reason
        calls.at[i, "failed_items"] = sum(r.outcome == "fail" for r in results)
        calls.at[i, "reviewed"] = True
    return calls
