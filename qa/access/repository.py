"""The scoped data-access layer: every read of calls goes through a `CallRepository` with a `Viewer`.

Each query starts from `visible`, the viewer's calls (`Scope.sql`, bound parameters), and joins
every other table to it, so a call outside the scope cannot be read by any method: it reads
as "no such call". Scores come from `qa.access.effective` (reviews applied in one place).
Writes that belong to the dashboard (reviews) check the role and the scope too.

`CallRepository` is the interface a second engine (PostgreSQL) implements; `DuckDBRepository`
reads the DuckDB store through short read-only connections (`qa.store.Store`), so the nightly
batch keeps writing. A missing file, or one without the schema, reads as "no calls yet".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from qa.access import day_totals
from qa.access.effective import (
    AUTO_ITEMS_CTE, ITEM_RESULT_FIELDS, LATEST_CTE, Key, Overlay, add_counts, count_outcomes, overlay_calls, sum_counts,
    overlay_items, to_results,
)
from qa.access.model import AccessDenied, Viewer
from qa.access.query import CallPage, CallQuery, ReviewSets, SearchHit, hits_sql, where_clause
from qa import text_index
from qa.reviews import OUTCOMES, Review, ReviewStore
from qa.rubric.engine import CallScore
from qa.rubric.schema import Rubric, RubricError, find_rubric, load_rubric
from qa.store import Store, StoreBusy, file_versions

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
SCORE_COLUMNS = ["rubric_id", "rubric_version", "score_pct", "auto_failed", "band", "reason", "sections", "scored_at"]
FAILURE_COLUMNS = ["failed_at", "call_id", "source_path", "stage", "error"]
REVIEW_COLUMNS = ["created_at", "reviewer", "rubric_id", "rubric_version", "item_id", "outcome", "comment"]
AGENT_COLUMNS = ["agent_key", "agent", "calls", "scored", "avg_score", "auto_failed", "needs_coaching", "last_call"]
RATE_COLUMNS = ["rubric_id", "section_id", "item_id", "critical", "applicable", "passed", "failed", "na"]
PROFILE_COLUMNS = ["profile", "calls", "avg_score", "overall_avg", "strategy", "most_failed_item", "failed", "applicable"]
PERIOD_CALL_COLUMNS = ["call_id", "agent_id", "agent_name", "started_at", "week", "queue", "language", "rubric_id",
                       "rubric_version", "score_pct", "auto_failed", "sections_json"]
SUM_COLUMNS = ["key", "measure", "n", "total"]
# a call's week: the Monday of its calendar week in the period's time zone
WEEK_SQL = "CAST(date_trunc('week', timezone(?, c.started_at)) AS DATE)"
_AGENT_KEY = "coalesce(c.agent_id, c.agent_name)"
KPI_CALL_COLUMNS = ["call_id", "agent_id", "agent_name", "queue", "started_at", "duration_s", "fcr_status", "pending",
                    "talk_s", "hold_s", "hold_count", "after_call_gap_s", "latency_mean_s", "latency_max_s",
                    "unannounced_wait_max_s", "csat", "csat_estimate", "window_ends_at"]


@dataclass(frozen=True)
class StoreStatus:
    """Whether there is anything to show: state missing | empty | ok | busy | error (counts: the viewer's calls)."""

    state: Literal["missing", "empty", "ok", "busy", "error"]
    path: str
    calls_ok: int = 0
    calls_failed: int = 0
    message: str = ""


@dataclass(frozen=True)
class Period:
    """The processed calls a coaching read covers: `agents`' calls started in [start, end), under one rubric,
    queue and language when given; `tz` names the zone whose calendar weeks group them."""

    agents: tuple[str, ...]
    start: datetime
    end: datetime
    rubric_id: str | None = None
    queue: str | None = None
    language: str | None = None
    tz: str = "UTC"

    def where(self, rubric_column: str = "l.rubric_id") -> tuple[str, list[Any]]:
        """The SQL condition over `visible c` (and the scoring's rubric column) with its parameters."""
        where, params = self.narrowing(rubric_column)
        return ("c.status = 'ok' AND list_contains(?::VARCHAR[], c.agent_id) AND c.started_at >= ? AND c.started_at < ?"
                + where, [list(self.agents), self.start, self.end, *params])

    def narrowing(self, rubric_column: str = "l.rubric_id") -> tuple[str, list[Any]]:
        """` AND ...` for the rubric, queue and language given (empty when none is)."""
        where, params = "", []
        for column, value in ((rubric_column, self.rubric_id), ("c.queue", self.queue), ("c.language", self.language)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        return where, params

    def days(self) -> tuple[date, date] | None:
        """The first and last day of the period in `tz`, when it starts and ends at midnight there."""
        zone = ZoneInfo(self.tz)
        start, end = pd.Timestamp(self.start).tz_convert(zone), pd.Timestamp(self.end).tz_convert(zone)
        if start != start.normalize() or end != end.normalize():
            return None
        return start.date(), (end - pd.Timedelta(days=1)).date()


@dataclass
class CallDetail:
    """One call row with its JSON columns parsed."""

    row: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conversation:
    metrics: dict[str, float] = field(default_factory=dict)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    profiles: pd.DataFrame = field(default_factory=pd.DataFrame)
    sentiment: dict[str, Any] | None = None


class CallRepository(Protocol):
    """What every page, report and CLI read uses. Implementations apply `viewer.scope` in their SQL."""

    def status(self, viewer: Viewer) -> StoreStatus: ...
    def list_calls(self, viewer: Viewer) -> pd.DataFrame: ...
    def call_rows(self, viewer: Viewer, ids: list[str] | None = None) -> pd.DataFrame: ...
    def call(self, viewer: Viewer, call_id: str) -> CallDetail | None: ...
    def utterances(self, viewer: Viewer, call_id: str) -> pd.DataFrame: ...
    def scores(self, viewer: Viewer, call_id: str) -> pd.DataFrame: ...
    def item_results(self, viewer: Viewer, call_id: str, rubric_id: str | None = None,
                     rubric_version: str | None = None) -> pd.DataFrame: ...
    def reviewed_score(self, viewer: Viewer, call_id: str, rubric_id: str, rubric_version: str) -> CallScore | None: ...
    def review_history(self, viewer: Viewer, call_id: str) -> pd.DataFrame: ...
    def save_review(self, viewer: Viewer, call_id: str, rubric_id: str, rubric_version: str, item_id: str,
                    outcome: str, comment: str | None = None) -> Review: ...
    def failures(self, viewer: Viewer, call_id: str | None = None, limit: int = 200) -> pd.DataFrame: ...
    def agent_summary(self, viewer: Viewer) -> pd.DataFrame: ...
    def item_pass_rates(self, viewer: Viewer, agent_key: str | None = None) -> pd.DataFrame: ...
    def conversation(self, viewer: Viewer, call_id: str) -> Conversation: ...
    def utterance_sentiment(self, viewer: Viewer, call_id: str) -> dict[int, tuple[str, float]]: ...
    def profile_coaching(self, viewer: Viewer, agent_key: str | None = None) -> pd.DataFrame: ...
    def redaction_spans(self, viewer: Viewer, call_id: str) -> list[tuple[float, float]]: ...
    def find_calls(self, viewer: Viewer, query: CallQuery) -> CallPage: ...
    def search(self, viewer: Viewer, text: str, limit: int = 50) -> list[SearchHit]: ...
    def kpi_calls(self, viewer: Viewer, start: Any, end: Any, as_of: Any, agents: tuple[str, ...] | None = None,
                  queue: str | None = None, language: str | None = None) -> pd.DataFrame: ...
    # coaching (qa.access.coaching): one period of some agents' calls; team lines as aggregates
    def version(self) -> tuple: ...
    def rubric(self, rubric_id: str, rubric_version: str | None = None) -> Rubric | None: ...
    def coachable_agents(self, viewer: Viewer) -> pd.DataFrame: ...
    def period_agents(self, viewer: Viewer, start: datetime, end: datetime) -> list[str]: ...
    def period_options(self, viewer: Viewer, period: Period) -> pd.DataFrame: ...
    def period_calls(self, viewer: Viewer, period: Period, sections: bool = False) -> pd.DataFrame: ...
    def period_items(self, viewer: Viewer, period: Period, reviewed_only: bool = False) -> pd.DataFrame: ...
    def period_fails(self, viewer: Viewer, period: Period, per_item: int,
                     reviewed: pd.DataFrame | None = None) -> pd.DataFrame: ...
    def period_profiles(self, viewer: Viewer, period: Period) -> pd.DataFrame: ...
    def period_item_counts_many(self, parts: Parts, per_agent: Collection[str] = ()) -> dict[str, pd.DataFrame]: ...
    def period_score_sums_many(self, parts: Parts, by: Literal["week", "profile"],
                               sections: bool = True) -> dict[str, pd.DataFrame]: ...
    def period_metric_means_many(self, parts: Parts, names: tuple[str, ...]) -> dict[str, pd.DataFrame]: ...


@lru_cache(maxsize=32)
def _rubric_file(path: str, mtime: float) -> Rubric:
    return load_rubric(path)


def default_rubric_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "scoring_rubrics"


class DuckDBRepository:
    """`CallRepository` over the DuckDB store at `db` (and its reviews file)."""

    def __init__(self, db: str | Path, rubric_dir: str | Path | None = None, timeout_s: float = STORE_TIMEOUT_S):
        self.db = Path(db)
        self.rubric_dir = Path(rubric_dir) if rubric_dir else default_rubric_dir()
        self.store = Store(self.db, timeout_s=timeout_s, read_timeout_s=timeout_s)
        self.reviews = ReviewStore(self.db, timeout_s=timeout_s)
        self._latest_reviews: dict | None = None  # set inside `snapshot`
        self._reviewed_calls: pd.DataFrame | None = None  # where the reviewed calls lie (inside `snapshot`)
        self._day_totals: dict[str, bool] = {}  # time zone -> day totals usable (inside `snapshot`)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Reads inside share one connection per file (store, reviews file): a page's answer in ~2 opens."""
        with self.store.reading(), self.reviews.store.reading():
            yield

    # --- the one query path ----------------------------------------------------------
    def _frame(self, viewer: Viewer, body: str, params: list[Any] | None, columns: list[str],
               call_id: str | None = None, ids: list[str] | None = None,
               period: Period | None = None, parts: Parts | None = None) -> pd.DataFrame:
        """`WITH visible AS (the viewer's calls) <body>`; `body` starts with `, cte AS (...)` or `SELECT`.

        `call_id` (or `ids`) narrows `visible` to that call (those calls): a per-call read need not scan every
        call; `period` narrows it to the period's agents and times (each call's latest scoring is then picked
        among those calls only). With `parts` (name, viewer, period), `visible` is every part's calls, each
        under its own viewer's scope (`viewer` is then unused): one read for several periods or viewers.
        """
        if not self.db.is_file():
            return pd.DataFrame(columns=columns)
        predicate, scope_params = viewer.scope.sql("c") if parts is None else _union(parts)
        if call_id is not None:
            predicate, scope_params = f"c.call_id = ? AND ({predicate})", [call_id, *scope_params]
        elif ids is not None:
            predicate, scope_params = f"list_contains(?::VARCHAR[], c.call_id) AND ({predicate})", [list(ids), *scope_params]
        if period is not None:
            predicate = f"list_contains(?::VARCHAR[], c.agent_id) AND c.started_at >= ? AND c.started_at < ? AND ({predicate})"
            scope_params = [list(period.agents), period.start, period.end, *scope_params]
        sql = f"WITH visible AS NOT MATERIALIZED (SELECT c.* FROM calls c WHERE {predicate})" + (
            "" if body.lstrip().startswith(",") else " ") + body
        try:
            df = self.store.query_df(sql, [*scope_params, *(params or [])])
        except duckdb.CatalogException:
            return pd.DataFrame(columns=columns)
        return df if len(df.columns) else pd.DataFrame(columns=columns)

    def _rubric(self, rubric_id: str, rubric_version: str) -> Rubric | None:
        """The rubric a scoring used, if its file is there at that version."""
        try:
            path = find_rubric(str(rubric_id), self.rubric_dir)
            rubric = _rubric_file(str(path), path.stat().st_mtime)
        except (RubricError, OSError):
            return None
        return rubric if str(rubric.version) == str(rubric_version) else None

    def _overlay(self, keys: list[Key] | None = None) -> Overlay:
        """Latest reviews of the given scorings (None: every reviewed scoring; filtered later by scope)."""
        snapshot = self._latest_reviews  # inside `snapshot`: the reviews file read once
        if snapshot is None and keys is not None and len(keys) <= 8:  # one call's page: read only its reviews
            latest = {k: r for k in keys if (r := self.reviews.latest(*k))}
            return Overlay(latest, self._rubric)
        latest = dict(snapshot) if snapshot is not None else self.reviews.latest_all()
        if keys is not None:
            wanted = set(keys)
            latest = {k: v for k, v in latest.items() if k in wanted}
        return Overlay(latest, self._rubric)

    def _reviewed_in(self, period: Period | None) -> list[str]:
        """Ids of the reviewed calls among `period`'s agents and times (every reviewed call without a period): a
        period without any needs no per-call path (most periods of most agents)."""
        ids = sorted({k[0] for k in self._overlay().reviews})
        if period is None or not ids:
            return ids
        where = self._reviewed_calls
        if where is None or not set(ids) <= set(where["call_id"]):
            where = self.store.query_df("SELECT call_id, agent_id, started_at FROM calls WHERE list_contains(?, call_id)",
                                        [ids]) if self.db.is_file() else pd.DataFrame(columns=["call_id", "agent_id", "started_at"])
            if self._latest_reviews is not None:
                self._reviewed_calls = where
        start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
        inside = where[where["agent_id"].isin(period.agents) & (where["started_at"] >= start) & (where["started_at"] < end)]
        return sorted(set(inside["call_id"]) & set(ids))

    def _auto_items(self, viewer: Viewer, keys: list[Key], extra: str = "") -> pd.DataFrame:
        """Automatic item rows (all columns) of the given scorings of visible calls."""
        if not keys:
            return pd.DataFrame(columns=ITEM_COLUMNS[:-2])
        cols = ", ".join("i." + c for c in ITEM_COLUMNS[:-2])
        if len(keys) == 1:  # plain equality: the primary-key columns, no computed key
            return self._frame(viewer, f"""SELECT {cols}{extra} FROM item_results i JOIN visible c ON c.call_id = i.call_id
                WHERE i.source = 'auto' AND i.call_id = ? AND i.rubric_id = ? AND i.rubric_version = ?""",
                               list(keys[0]), ITEM_COLUMNS[:-2], call_id=keys[0][0])
        # a join on the keys, `visible` narrowed to their calls: no key string built per item row (10x faster at 100k)
        return self._frame(viewer, f"""SELECT {cols}{extra} FROM item_results i JOIN visible c ON c.call_id = i.call_id
            JOIN (SELECT unnest(?::VARCHAR[]) AS call_id, unnest(?::VARCHAR[]) AS rubric_id,
                         unnest(?::VARCHAR[]) AS rubric_version) k
              ON k.call_id = i.call_id AND k.rubric_id = i.rubric_id AND k.rubric_version = i.rubric_version
            WHERE i.source = 'auto'""", [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
            ITEM_COLUMNS[:-2], ids=sorted({k[0] for k in keys}))

    # --- calls -------------------------------------------------------------------------
    def status(self, viewer: Viewer) -> StoreStatus:
        path = str(self.db)
        if not self.db.is_file():
            return StoreStatus("missing", path, message=f"no database at {path}")
        try:
            predicate, params = viewer.scope.sql("c")
            rows = self.store.query(f"SELECT status, count(*) FROM calls c WHERE {predicate} GROUP BY status", params)
            total = self.store.query("SELECT count(*) FROM calls")[0][0]
        except duckdb.CatalogException:
            return StoreStatus("empty", path, message=f"{path} has no calls table yet")
        except StoreBusy as exc:
            return StoreStatus("busy", path, message=str(exc))
        except Exception as exc:  # not a DuckDB file, newer format, locked for too long ...
            return StoreStatus("error", path, message=f"cannot read {path}: {exc}")
        counts = {status: n for status, n in rows}
        ok, failed = int(counts.get("ok", 0)), int(counts.get("failed", 0))
        # a store with calls, none of them the viewer's, is "ok" with zero counts: the pages say so
        return StoreStatus("ok" if ok or failed or total else "empty", path, ok, failed)

    def list_calls(self, viewer: Viewer) -> pd.DataFrame:
        """The viewer's calls, newest first, with their effective score and number of failed items."""
        return self.call_rows(viewer)

    def call_rows(self, viewer: Viewer, ids: list[str] | None = None) -> pd.DataFrame:
        """`list_calls` rows (effective scores) of every visible call, or only of `ids` (in that order)."""
        body = f""", {LATEST_CTE}, {AUTO_ITEMS_CTE},
        fails AS (SELECT call_id, count(*) FILTER (WHERE outcome = 'fail') AS failed_items FROM auto_items GROUP BY call_id)
        SELECT c.call_id, {_AGENT_KEY} AS agent_key, c.agent_id, c.agent_name, c.started_at,
               c.duration_s, c.language, c.channels, c.direction, c.queue, l.score_pct, l.band, l.auto_failed,
               l.reason AS auto_fail_reason, l.rubric_id, l.rubric_version,
               CASE WHEN l.call_id IS NULL THEN NULL ELSE coalesce(f.failed_items, 0) END AS failed_items,
               c.status, c.error, c.error_stage, c.source_path, c.processed_at, c.role_confidence,
               -- the display name in SQL: a Python loop over 100k rows costs ~2 s (benchmarks/bench_store.py)
               coalesce(nullif(c.agent_name, '') || ' (' || nullif(c.agent_id, '') || ')', nullif(c.agent_name, ''),
                        nullif(c.agent_id, ''), '–') AS agent
        FROM visible c LEFT JOIN latest l ON l.call_id = c.call_id LEFT JOIN fails f ON f.call_id = c.call_id
        ORDER BY coalesce(c.started_at, c.processed_at) DESC NULLS LAST, c.call_id"""
        # `ids` narrow `visible` itself, so the CTEs read only these calls
        calls = self._frame(viewer, body, None, [*CALL_COLUMNS[:-2], "agent"], ids=ids)
        if ids is not None and len(calls):
            order = {c: n for n, c in enumerate(ids)}
            calls = calls.iloc[sorted(range(len(calls)), key=lambda i: order.get(calls["call_id"].iat[i], 0))]
            calls = calls.reset_index(drop=True)
        keys = [(str(c), str(r), str(v)) for c, r, v in zip(calls["call_id"], calls["rubric_id"], calls["rubric_version"])
                if r is not None and r == r]
        overlay = self._overlay(keys)
        auto = to_results(self._auto_items(viewer, overlay.keys()))
        return overlay_calls(calls, overlay, auto)

    def call(self, viewer: Viewer, call_id: str) -> CallDetail | None:
        """The call's row and parsed metadata/stats, or None when it does not exist *or* is not the viewer's."""
        df = self._frame(viewer, "SELECT * FROM visible WHERE call_id = ?", [call_id], [], call_id=call_id)
        if df.empty:
            return None
        row = {k: (None if _missing(v) else v) for k, v in df.iloc[0].to_dict().items()}
        parsed = []
        for key in ("metadata_json", "stats_json"):
            try:
                value = json.loads(row.get(key) or "{}")
            except (TypeError, json.JSONDecodeError):
                value = {}
            parsed.append(value if isinstance(value, dict) else {})
        return CallDetail(row, parsed[0], parsed[1])

    def require(self, viewer: Viewer, call_id: str) -> CallDetail:
        detail = self.call(viewer, call_id)
        if detail is None:
            raise AccessDenied(f"no call {call_id!r} that {viewer.identity} may see")
        return detail

    def utterances(self, viewer: Viewer, call_id: str) -> pd.DataFrame:
        cols = ", ".join("u." + c for c in UTTERANCE_COLUMNS)
        return self._frame(viewer, f"""SELECT {cols} FROM utterances u JOIN visible c ON c.call_id = u.call_id
                                       WHERE u.call_id = ? ORDER BY u.start_s, u.idx""", [call_id], UTTERANCE_COLUMNS,
                           call_id=call_id)

    def scores(self, viewer: Viewer, call_id: str) -> pd.DataFrame:
        """Every stored scoring of the call (automatic scores), latest first."""
        df = self._frame(viewer, """SELECT s.rubric_id, s.rubric_version, s.score_pct, s.auto_failed, s.band, s.reason,
                                           s.sections_json, s.scored_at
            FROM call_scores s JOIN visible c ON c.call_id = s.call_id WHERE s.call_id = ?
            ORDER BY s.scored_at DESC, s.rubric_id, s.rubric_version DESC""",
                         [call_id], [*SCORE_COLUMNS[:-2], "sections_json", "scored_at"], call_id=call_id)
        df["sections"] = [_json_dict(s) for s in df["sections_json"]]
        return df[SCORE_COLUMNS]

    def item_results(self, viewer: Viewer, call_id: str, rubric_id: str | None = None,
                     rubric_version: str | None = None) -> pd.DataFrame:
        """Effective item results of one scoring of the call (default: its latest)."""
        with self.store.reading():  # the scoring and its items over one connection
            if rubric_id is None or rubric_version is None:
                scores = self.scores(viewer, call_id)
                if scores.empty:
                    return pd.DataFrame(columns=ITEM_COLUMNS)
                rubric_id, rubric_version = scores.iloc[0]["rubric_id"], scores.iloc[0]["rubric_version"]
            key = (str(call_id), str(rubric_id), str(rubric_version))
            items = self._auto_items(viewer, [key])
        return overlay_items(items, self._overlay([key]))

    def reviewed_score(self, viewer: Viewer, call_id: str, rubric_id: str, rubric_version: str) -> CallScore | None:
        key = (str(call_id), str(rubric_id), str(rubric_version))
        overlay = self._overlay([key])
        if not overlay.covers(key):
            return None
        return overlay.score(key, to_results(self._auto_items(viewer, [key])).get(key, []))

    def review_history(self, viewer: Viewer, call_id: str) -> pd.DataFrame:
        if self.call(viewer, call_id) is None:
            return pd.DataFrame(columns=REVIEW_COLUMNS)
        rows = [{k: getattr(r, k) for k in REVIEW_COLUMNS} for r in self.reviews.history(call_id)]
        return pd.DataFrame(rows, columns=REVIEW_COLUMNS)

    def save_review(self, viewer: Viewer, call_id: str, rubric_id: str, rubric_version: str, item_id: str,
                    outcome: str, comment: str | None = None) -> Review:
        """A review signed with the signed-in viewer's name (never a name typed in a form).

        A critical item's outcome changed (from the AI's, or from the current one) needs a comment
        saying why: `qa.review.errors.ReasonRequired`, whichever page or command asks.
        """
        if not viewer.can_review:
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not review calls")
        with self.reading():
            self.require(viewer, call_id)
            items = self.item_results(viewer, call_id, rubric_id, rubric_version)
        self.check_reason(viewer, items, rubric_id, rubric_version, item_id, outcome, comment)
        return self.reviews.save(call_id, rubric_id, rubric_version, item_id, outcome, viewer.name, comment)

    def check_reason(self, viewer: Viewer, items: pd.DataFrame, rubric_id: str, rubric_version: str, item_id: str,
                     outcome: str, comment: str | None) -> None:
        """`ReasonRequired` when a critical item's outcome changes (from the AI's, or from the current one, as in
        `items`: the call's `item_results` of that scoring) with no comment."""
        from qa.review.errors import ReasonRequired

        row = items[items["item_id"] == item_id]
        new = (outcome or "").strip().lower()
        checkable = new in OUTCOMES and viewer.name.strip()  # else `reviews.save` says what is wrong first
        if checkable and len(row) and bool(row["critical"].iat[0]) and not (comment or "").strip() and (
                new != row["auto_outcome"].iat[0] or new != row["outcome"].iat[0]):
            title = self.item_titles(str(rubric_id), str(rubric_version)).get(item_id, item_id)
            raise ReasonRequired(f"“{title}” is a critical item: say why you change it (a reason is required)")

    def failures(self, viewer: Viewer, call_id: str | None = None, limit: int = 200) -> pd.DataFrame:
        """Failed processing attempts, newest first; unattributed ones only for viewers who see everything."""
        cols = ", ".join("f." + c for c in FAILURE_COLUMNS)
        if call_id:
            return self._frame(viewer, f"""SELECT {cols} FROM failures f JOIN visible c ON c.call_id = f.call_id
                WHERE f.call_id = ? ORDER BY f.failed_at DESC LIMIT ?""", [call_id, int(limit)], FAILURE_COLUMNS,
                               call_id=call_id)
        join = "" if viewer.sees_failure_log else "JOIN visible c ON c.call_id = f.call_id"
        return self._frame(viewer, f"SELECT {cols} FROM failures f {join} ORDER BY f.failed_at DESC LIMIT ?",
                           [int(limit)], FAILURE_COLUMNS)

    # --- aggregates --------------------------------------------------------------------
    def agent_summary(self, viewer: Viewer) -> pd.DataFrame:
        """Per agent over the viewer's processed calls: calls, scored, mean effective score, auto-fails, last call.

        Without a reviewed scoring among the viewer's calls the effective score is the latest stored
        one, aggregated in SQL; otherwise from `list_calls` (reviewed scores laid over).
        """
        if not self._overlay().reviews:
            df = self._frame(viewer, f""", {LATEST_CTE}
                SELECT {_AGENT_KEY} AS agent_key, coalesce(any_value(nullif(c.agent_name, '')) || ' (' ||
                           any_value(nullif(c.agent_id, '')) || ')', any_value(nullif(c.agent_name, '')),
                           any_value(nullif(c.agent_id, '')), '–') AS agent,
                       count(*) AS calls, count(l.score_pct) AS scored, round(avg(l.score_pct), 1) AS avg_score,
                       count(*) FILTER (WHERE l.auto_failed) AS auto_failed,
                       count(*) FILTER (WHERE l.band = 'needs_coaching') AS needs_coaching, max(c.started_at) AS last_call
                FROM visible c LEFT JOIN latest l ON l.call_id = c.call_id
                WHERE c.status = 'ok' AND {_AGENT_KEY} IS NOT NULL
                GROUP BY 1 ORDER BY avg_score ASC NULLS LAST, agent_key""", None, AGENT_COLUMNS)
            return df[AGENT_COLUMNS]
        calls = self.list_calls(viewer)
        ok = calls[(calls["status"] == "ok") & calls["agent_key"].notna()].copy()
        ok["score_pct"] = pd.to_numeric(ok["score_pct"], errors="coerce")
        ok["is_auto_failed"] = ok["auto_failed"].map(lambda v: False if _missing(v) else bool(v))
        ok["is_coaching"] = ok["band"] == "needs_coaching"
        g = ok.groupby("agent_key", sort=False)
        df = pd.DataFrame({
            "agent": g["agent"].first(), "calls": g.size(), "scored": g["score_pct"].count(),
            "avg_score": g["score_pct"].mean().round(1), "auto_failed": g["is_auto_failed"].sum(),
            "needs_coaching": g["is_coaching"].sum(), "last_call": g["started_at"].max(),
        }).reset_index()
        if df.empty:
            return pd.DataFrame(columns=AGENT_COLUMNS)
        return df.sort_values(["avg_score", "agent_key"], na_position="last").reset_index(drop=True)[AGENT_COLUMNS]

    def _outcome_counts(self, viewer: Viewer, by: list[str], join: str, where: str, params: list[Any],
                        period: Period | None = None) -> pd.DataFrame:
        """Effective outcome counts grouped by `by` (columns of auto_items `i` or of `join`): counted in SQL over
        the calls nobody reviewed, in Python (reviews applied) over the few that were. The split is by call, on
        the `visible` side, so the filter lands on the calls read, not on every item row."""
        reviewed_ids = self._reviewed_in(period)
        reviewed = [k for k in self._overlay().keys() if k[0] in set(reviewed_ids)]
        select = ", ".join(by)
        sql_counts = self._frame(viewer, f""", {LATEST_CTE}, {AUTO_ITEMS_CTE}
            SELECT {select}, bool_or(i.critical) AS critical,
                   count(*) FILTER (WHERE i.outcome IN ('pass', 'fail')) AS applicable,
                   count(*) FILTER (WHERE i.outcome = 'pass') AS passed,
                   count(*) FILTER (WHERE i.outcome = 'fail') AS failed,
                   count(*) FILTER (WHERE i.outcome = 'na') AS na
            FROM auto_items i JOIN visible c ON c.call_id = i.call_id {join}
            WHERE NOT list_contains(?::VARCHAR[], c.call_id) {where}
            GROUP BY {select}""", [reviewed_ids, *params],
            [b.split(".")[-1] for b in by] + ["critical", "applicable", "passed", "failed", "na"], period=period)
        names = [b.split(".")[-1] for b in by]
        if not reviewed:
            return sql_counts
        extra_cols = [b for b in by if not b.startswith("i.")]
        rows = self._frame(viewer, f""", {LATEST_CTE}, {AUTO_ITEMS_CTE}
            SELECT i.call_id, i.rubric_id, i.rubric_version, {', '.join('i.' + f for f in ITEM_RESULT_FIELDS)}
                   {''.join(', ' + b for b in extra_cols)}
            FROM auto_items i JOIN visible c ON c.call_id = i.call_id {join}
            WHERE list_contains(?::VARCHAR[], c.call_id) {where}""",
            [reviewed_ids, *params], [], period=period)
        if rows.empty:
            return sql_counts
        counted = self._reviewed_outcomes(rows, [b.split(".")[-1] for b in extra_cols], names)
        return add_counts(sql_counts, counted, names)

    def item_pass_rates(self, viewer: Viewer, agent_key: str | None = None) -> pd.DataFrame:
        """Effective outcome counts per rubric item over the viewer's calls (one agent, or all)."""
        where, params = ("", []) if agent_key is None else (f"AND {_AGENT_KEY} = ?", [agent_key])
        df = self._outcome_counts(viewer, ["i.rubric_id", "i.section_id", "i.item_id"], "", where, params)
        df = df.reindex(columns=RATE_COLUMNS)
        df["pass_rate"] = [round(100.0 * p / a, 1) if a else None for p, a in zip(df["passed"], df["applicable"])]
        return df

    def conversation(self, viewer: Viewer, call_id: str) -> Conversation:
        metrics = self._frame(viewer, """SELECT m.name, m.value FROM call_metrics m JOIN visible c ON c.call_id = m.call_id
                                         WHERE m.call_id = ?""", [call_id], ["name", "value"], call_id=call_id)
        events = self._frame(viewer, """SELECT e.kind, e.start_s, e.end_s, e.details_json FROM call_events e
            JOIN visible c ON c.call_id = e.call_id WHERE e.call_id = ? ORDER BY e.start_s""",
                             [call_id], ["kind", "start_s", "end_s", "details_json"], call_id=call_id)
        events["details"] = [json.loads(d) if isinstance(d, str) and d else {} for d in events["details_json"]]
        profiles = self._frame(viewer, """SELECT p.profile, p.confidence, p.reasons_json, p.strategy FROM call_profiles p
            JOIN visible c ON c.call_id = p.call_id WHERE p.call_id = ? ORDER BY p.confidence DESC""",
                               [call_id], ["profile", "confidence", "reasons_json", "strategy"], call_id=call_id)
        profiles["reasons"] = [json.loads(r) if isinstance(r, str) and r else [] for r in profiles["reasons_json"]]
        raw = self._frame(viewer, "SELECT sentiment_json FROM visible WHERE call_id = ?", [call_id], ["sentiment_json"],
                          call_id=call_id)
        sentiment = json.loads(raw.iloc[0, 0]) if len(raw) and isinstance(raw.iloc[0, 0], str) else None
        return Conversation({str(n): float(v) for n, v in zip(metrics["name"], metrics["value"])},
                            events.drop(columns=["details_json"]), profiles.drop(columns=["reasons_json"]), sentiment)

    def utterance_sentiment(self, viewer: Viewer, call_id: str) -> dict[int, tuple[str, float]]:
        df = self._frame(viewer, """SELECT u.idx, u.sentiment_label, u.sentiment_polarity FROM utterances u
            JOIN visible c ON c.call_id = u.call_id WHERE u.call_id = ? AND u.sentiment_label IS NOT NULL""",
                         [call_id], ["idx", "sentiment_label", "sentiment_polarity"], call_id=call_id)
        return {int(i): (str(lab), float(p or 0.0))
                for i, lab, p in zip(df["idx"], df["sentiment_label"], df["sentiment_polarity"])}

    def profile_coaching(self, viewer: Viewer, agent_key: str | None = None) -> pd.DataFrame:
        """Per customer profile: the calls, their mean effective score beside the overall mean, and the
        item most often failed with such customers (effective outcomes); one agent or all."""
        where, params = ("", []) if agent_key is None else (f"AND {_AGENT_KEY} = ?", [agent_key])
        calls = self._scores(viewer, where, params)
        profiles = self._frame(viewer, f"""SELECT p.call_id, p.profile, p.strategy FROM call_profiles p
            JOIN visible c ON c.call_id = p.call_id WHERE c.status = 'ok' {where}""", params,
                               ["call_id", "profile", "strategy"])
        scored = calls.dropna(subset=["score_pct"])
        joined = profiles.merge(scored[["call_id", "score_pct"]], on="call_id", how="inner")
        if joined.empty:
            return pd.DataFrame(columns=PROFILE_COLUMNS)
        joined["score_pct"] = pd.to_numeric(joined["score_pct"])
        g = joined.groupby("profile", sort=False)
        per = pd.DataFrame({"calls": g.size(), "avg_score": g["score_pct"].mean(), "strategy": g["strategy"].first()})
        per["overall_avg"] = float(pd.to_numeric(scored["score_pct"]).mean())
        per = per.reset_index().sort_values(["calls", "profile"], ascending=[False, True])
        counts = self._outcome_counts(viewer, ["p.profile", "i.item_id"],
                                      "JOIN call_profiles p ON p.call_id = i.call_id", where, params)
        worst = (counts[counts["failed"] > 0].sort_values(["profile", "failed", "item_id"], ascending=[True, False, True])
                 .drop_duplicates("profile").set_index("profile"))
        per["most_failed_item"] = [worst["item_id"].get(p) for p in per["profile"]]
        per["failed"] = [int(worst["failed"].get(p, 0)) for p in per["profile"]]
        per["applicable"] = [int(worst["applicable"].get(p, 0)) for p in per["profile"]]
        return per[PROFILE_COLUMNS].reset_index(drop=True)

    def _scores(self, viewer: Viewer, where: str = "", params: list[Any] | None = None) -> pd.DataFrame:
        """call_id, score_pct: the effective score of the viewer's processed calls (`where` over `c`)."""
        rows = self._frame(viewer, f""", {LATEST_CTE}
            SELECT c.call_id, l.rubric_id, l.rubric_version, l.score_pct FROM visible c
            JOIN latest l ON l.call_id = c.call_id WHERE c.status = 'ok' {where}""", params,
                           ["call_id", "rubric_id", "rubric_version", "score_pct"])
        keys = [(str(c), str(r), str(v)) for c, r, v in zip(rows["call_id"], rows["rubric_id"], rows["rubric_version"])]
        overlay = self._overlay()
        reviewed = [k for k in keys if overlay.covers(k)]
        if reviewed:
            auto = to_results(self._auto_items(viewer, reviewed))
            rows = rows.astype({"score_pct": object})
            for i, key in zip(rows.index, keys):
                score = overlay.score(key, auto.get(key, [])) if key in overlay.reviews else None
                if score is not None:
                    rows.at[i, "score_pct"] = score.score_pct
        return rows[["call_id", "score_pct"]]

    # --- filters and search ---------------------------------------------------------------
    def rubric(self, rubric_id: str, rubric_version: str | None = None) -> Rubric | None:
        """The rubric file of a scoring (at that version; any version when `rubric_version` is None)."""
        if rubric_version is not None:
            return self._rubric(rubric_id, rubric_version)
        try:
            path = find_rubric(str(rubric_id), self.rubric_dir)
            return _rubric_file(str(path), path.stat().st_mtime)
        except (RubricError, OSError):
            return None

    def item_titles(self, rubric_id: str, rubric_version: str | None = None) -> dict[str, str]:
        """Item id -> title in the rubric's language (the file at that version, else the current file)."""
        rubric = self.rubric(rubric_id, rubric_version) or self.rubric(rubric_id)
        return {item.id: item.title for _, item in rubric.items()} if rubric else {}

    def _review_sets(self, q: CallQuery) -> ReviewSets:
        from qa.review.records import ReviewFile

        if not (q.reviewed or q.review_status or q.failed_item):
            return ReviewSets()
        file = ReviewFile(self.db, self.store.read_timeout_s)
        ids = lambda sql, p=None: [r[0] for r in file.query(sql, p)]  # noqa: E731
        signed = ids("SELECT DISTINCT call_id FROM signoffs") if q.reviewed else []
        disputed = ids("SELECT DISTINCT call_id FROM disputes") if q.reviewed else []
        reviewed = sorted({*ids("SELECT DISTINCT call_id FROM reviews"), *signed}) if q.reviewed else []
        queued = []
        if q.review_status:
            queued = ids("SELECT call_id FROM queue_items") if q.review_status == "queued" else ids(
                "SELECT call_id FROM queue_items WHERE status = ?", [q.review_status])
        fail_in, fail_out = [], []
        if q.failed_item:
            reviewed_item = {k: r[q.failed_item] for k, r in self.reviews.latest_all().items() if q.failed_item in r}
            ids = sorted({k[0] for k in reviewed_item})
            latest = self.store.query("""SELECT call_id, rubric_id, rubric_version FROM call_scores
                WHERE list_contains(?::VARCHAR[], call_id) QUALIFY row_number() OVER (
                    PARTITION BY call_id ORDER BY scored_at DESC, rubric_id, rubric_version DESC) = 1""", [ids]) if ids else []
            for key in latest:
                review = reviewed_item.get((str(key[0]), str(key[1]), str(key[2])))
                if review is not None:
                    (fail_in if review.outcome == "fail" else fail_out).append(str(key[0]))
        return ReviewSets(reviewed, signed, disputed, queued, fail_in, fail_out)

    def find_calls(self, viewer: Viewer, query: CallQuery) -> CallPage:
        """One page of the viewer's calls matching `query`, newest first, with the total and the search hits."""
        with self.reading():
            return self._find_calls(viewer, query)

    def _find_calls(self, viewer: Viewer, query: CallQuery) -> CallPage:
        where, params, ctes = where_clause(query, self._review_sets(query))
        prefix = "".join(", " + c for c in ctes)
        matching = f"{prefix} SELECT c.call_id, __COLUMN__ FROM visible c {'WHERE ' + ' AND '.join(where) if where else ''}"
        body = matching.replace("__COLUMN__", "count(*) OVER () AS total") + """
            ORDER BY coalesce(c.started_at, c.processed_at) DESC NULLS LAST, c.call_id LIMIT ? OFFSET ?"""
        page = self._frame(viewer, body, [*params, max(1, int(query.limit)), max(0, int(query.offset))],
                           ["call_id", "total"])
        ids = [str(c) for c in page["call_id"]]
        total = int(page["total"].iat[0]) if len(page) else 0
        if not ids and query.offset:  # paged past the end: the total still counts
            total = len(self._frame(viewer, matching.replace("__COLUMN__", "1 AS one"), params, ["call_id", "one"]))
        rows = self.call_rows(viewer, ids) if ids else pd.DataFrame(columns=CALL_COLUMNS)
        words = text_index.query_words(query.text)
        return CallPage(rows, total, self._hits(viewer, words, ids) if words and ids else {})

    def _hits(self, viewer: Viewer, words: list[str], ids: list[str] | None, limit: int = 500,
              per_call: int = 3) -> dict[str, list[SearchHit]]:
        """Utterances where every word starts a token, of `ids` (None: every visible call), newest calls first."""
        sql, params = hits_sql(words)
        narrow = "" if ids is None else "WHERE list_contains(?::VARCHAR[], h.call_id)"
        df = self._frame(viewer, f""", hits AS ({sql}),
            ranked AS (SELECT h.call_id, h.utterance_idx,
                              row_number() OVER (PARTITION BY h.call_id ORDER BY h.utterance_idx) AS n
                       FROM hits h {narrow})
            SELECT r.call_id, u.idx, u.start_s, u.end_s, u.speaker_role, u.text FROM ranked r
            JOIN visible c ON c.call_id = r.call_id
            JOIN utterances u ON u.call_id = r.call_id AND u.idx = r.utterance_idx
            WHERE r.n <= ? ORDER BY coalesce(c.started_at, c.processed_at) DESC NULLS LAST, r.call_id, u.idx LIMIT ?""",
            [*params, *([list(ids)] if ids is not None else []), int(per_call), int(limit)],
            ["call_id", "idx", "start_s", "end_s", "speaker_role", "text"], ids=ids)
        out: dict[str, list[SearchHit]] = {}
        for r in df.itertuples(index=False):
            out.setdefault(str(r.call_id), []).append(SearchHit(
                str(r.call_id), int(r.idx), float(r.start_s or 0.0), float(r.end_s or 0.0), str(r.speaker_role or ""),
                str(r.text or "")))
        return out

    def search(self, viewer: Viewer, text: str, limit: int = 50) -> list[SearchHit]:
        """Utterances of the viewer's calls matching `text` (every word a token prefix), newest calls first."""
        words = text_index.query_words(text)
        if not words:
            return []
        with self.reading():
            hits = self._hits(viewer, words, None, limit=limit)
        return [h for per in hits.values() for h in per][:limit]

    def redaction_spans(self, viewer: Viewer, call_id: str) -> list[tuple[float, float]]:
        """Where personal data was spoken in the call (for the redacted audio)."""
        df = self._frame(viewer, """SELECT r.start_s, r.end_s FROM pii_redactions r JOIN visible c ON c.call_id = r.call_id
                                    WHERE r.call_id = ? ORDER BY r.start_s""", [call_id], ["start_s", "end_s"],
                         call_id=call_id)
        return [(float(s), float(e)) for s, e in zip(df["start_s"], df["end_s"])]

    # --- coaching: one period of some agents' calls ---------------------------------------------
    def version(self) -> tuple:
        """Changes whenever the store or the reviews file (or their WAL) is written: a cache key, so a cached
        page is never older than the last write. (Teams and users are read afresh: they are not in it.)"""
        return file_versions(self.db, self.reviews.path)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """`reading`, and the reviews file read once for the block (~30 ms each otherwise): the figures of
        one report come from one snapshot. Only for reads: a review written inside the block is not seen."""
        with self.reading():
            if self._latest_reviews is not None:
                yield
                return
            self._latest_reviews = self.reviews.latest_all()
            try:
                yield
            finally:
                self._latest_reviews, self._reviewed_calls, self._day_totals = None, None, {}

    def coachable_agents(self, viewer: Viewer) -> pd.DataFrame:
        """agent_id, agent_name, last_call of the viewer's processed calls (one row per agent id)."""
        return self._frame(viewer, """SELECT c.agent_id, any_value(c.agent_name) AS agent_name,
            max(c.started_at) AS last_call FROM visible c WHERE c.status = 'ok' AND c.agent_id IS NOT NULL
            AND c.agent_id <> '' GROUP BY c.agent_id ORDER BY c.agent_id""", None, ["agent_id", "agent_name", "last_call"])

    def period_agents(self, viewer: Viewer, start: datetime, end: datetime) -> list[str]:
        """Agent ids of the viewer's processed calls started in [start, end)."""
        df = self._frame(viewer, """SELECT DISTINCT c.agent_id FROM visible c WHERE c.status = 'ok'
            AND c.agent_id IS NOT NULL AND c.started_at >= ? AND c.started_at < ? ORDER BY 1""", [start, end],
                         ["agent_id"])
        return [str(a) for a in df["agent_id"]]

    def period_options(self, viewer: Viewer, period: Period) -> pd.DataFrame:
        """rubric_id, queue, language, calls: what the period's calls can be filtered by (latest scorings)."""
        where, params = period.where()
        return self._frame(viewer, f""", {LATEST_CTE}
            SELECT l.rubric_id, c.queue, c.language, count(*) AS calls FROM visible c JOIN latest l ON l.call_id = c.call_id
            WHERE {where} GROUP BY ALL ORDER BY calls DESC, 1, 2, 3""", params,
                           ["rubric_id", "queue", "language", "calls"], period=period)

    def period_calls(self, viewer: Viewer, period: Period, sections: bool = False) -> pd.DataFrame:
        """One row per call: its latest scoring with the reviewed score and auto-fail, its week (Monday, in
        `period.tz`) and `reviewed`; with `sections`, each call's section scores too (a dict: parsed per call,
        so only when asked; the coaching figures take them summed from `period_score_sums_many`)."""
        where, params = period.where()
        calls = self._frame(viewer, f""", {LATEST_CTE}
            SELECT c.call_id, c.agent_id, c.agent_name, c.started_at, {WEEK_SQL} AS week, c.queue, c.language,
                   l.rubric_id, l.rubric_version, l.score_pct, l.auto_failed,
                   {'l.sections_json' if sections else 'NULL::VARCHAR AS sections_json'}
            FROM visible c JOIN latest l ON l.call_id = c.call_id WHERE {where} ORDER BY c.started_at, c.call_id""",
                            [period.tz, *params], PERIOD_CALL_COLUMNS, period=period)
        calls = calls.astype({"score_pct": object, "auto_failed": object})
        if sections:
            calls["sections"] = [_json_dict(s) for s in calls["sections_json"]]
        calls["reviewed"] = False
        some = calls[calls["call_id"].isin(self._reviewed_in(period))]  # keys built for these rows only
        keys: list[Key] = [(str(c), str(r), str(v)) for c, r, v in
                           zip(some["call_id"], some["rubric_id"], some["rubric_version"])]
        overlay = self._overlay(keys)
        reviewed = [k for k in keys if overlay.covers(k)]
        if reviewed:
            auto = to_results(self._auto_items(viewer, reviewed))
            for i, key in zip(some.index, keys):
                score = overlay.score(key, auto.get(key, [])) if key in overlay.reviews else None
                if score is not None:
                    calls.at[i, "score_pct"], calls.at[i, "auto_failed"] = score.score_pct, score.auto_failed
                    calls.at[i, "reviewed"] = True
                    if sections:
                        calls.at[i, "sections"] = dict(score.sections)
        return calls.drop(columns=["sections_json"])

    def period_items(self, viewer: Viewer, period: Period, reviewed_only: bool = False) -> pd.DataFrame:
        """One row per call x item of the latest scorings, effective outcomes (with reviewer and comment). With
        `reviewed_only`, only the rows of calls with a review (few: a report's comments and reviewed moments)."""
        where, params = period.where()
        cols = ", ".join("i." + c for c in ITEM_COLUMNS[:-2])
        overlay = self._overlay()  # the few reviewed scorings among these calls (not a key per row)
        ids = self._reviewed_in(period) if reviewed_only else None
        if ids == []:
            return overlay_items(pd.DataFrame(columns=[*ITEM_COLUMNS[:-2], "agent_id"]), overlay)
        items = self._frame(viewer, f""", {LATEST_CTE}
            SELECT {cols}, c.agent_id FROM item_results i JOIN visible c ON c.call_id = i.call_id
            JOIN latest l ON l.call_id = i.call_id AND l.rubric_id = i.rubric_id AND l.rubric_version = i.rubric_version
            WHERE i.source = 'auto' AND {where} ORDER BY c.started_at, i.call_id""", params,
                            [*ITEM_COLUMNS[:-2], "agent_id"], ids=ids, period=period)
        present = set(items["call_id"].unique())
        overlay.reviews = {k: v for k, v in overlay.reviews.items() if k[0] in present}
        return overlay_items(items, overlay)

    def period_fails(self, viewer: Viewer, period: Period, per_item: int,
                     reviewed: pd.DataFrame | None = None) -> pd.DataFrame:
        """The latest `per_item` calls failing each item (effective outcome, newest first: the moments to coach
        from), as item rows with `started_at`. Unreviewed calls' failures are picked in SQL; reviewed calls'
        rows (`period_items(reviewed_only=True)`, read here unless given) join them, so a review that
        lifts or adds a failure counts."""
        cols = ", ".join("i." + c for c in ITEM_COLUMNS[:-2])
        reviewed = self.period_items(viewer, period, reviewed_only=True) if reviewed is None else reviewed
        skip = sorted({k[0] for k in self._overlay().reviews})
        # the newest failures lie in the period's last days: the day totals say from which day on there are enough
        since = self._fails_since(viewer, period, per_item + len(self._reviewed_in(period)))
        if since is not None:
            period = replace(period, start=max(period.start, datetime.combine(since, time(), ZoneInfo(period.tz))))
        where, params = period.where()
        auto = self._frame(viewer, f""", {LATEST_CTE}
            SELECT {cols}, c.agent_id, c.started_at FROM item_results i JOIN visible c ON c.call_id = i.call_id
            JOIN latest l ON l.call_id = i.call_id AND l.rubric_id = i.rubric_id AND l.rubric_version = i.rubric_version
            WHERE i.source = 'auto' AND i.outcome = 'fail' AND NOT list_contains(?::VARCHAR[], c.call_id) AND {where}
            QUALIFY row_number() OVER (PARTITION BY i.item_id ORDER BY c.started_at DESC, i.call_id) <= ?""",
                           [skip, *params, per_item], [*ITEM_COLUMNS[:-2], "agent_id", "started_at"], period=period)
        auto = overlay_items(auto, Overlay())
        mine = reviewed[reviewed["outcome"] == "fail"]
        if len(mine):
            when = self._frame(viewer, """SELECT c.call_id, c.started_at FROM visible c""", None,
                               ["call_id", "started_at"], ids=sorted(set(mine["call_id"])))
            mine = mine.merge(when, on="call_id", how="left")
        both = pd.concat([df for df in (auto, mine) if len(df)], ignore_index=True) if len(auto) or len(mine) else auto
        both = both.sort_values(["started_at", "call_id"], ascending=[False, True], kind="stable")
        return both.groupby("item_id", sort=False).head(per_item).reset_index(drop=True)

    def period_metric_means_many(self, parts: Parts, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        """name, mean of the named call metrics over each part's calls (aggregated in SQL), in one read (of the
        day totals when they are current)."""
        spans = self._day_spans(parts)
        if spans is not None:
            sql, params = self._days_sql(parts, spans, "coach_metric_days",
                                         lambda _: "c.name, sum(c.n) AS n, fsum(c.total) AS total",
                                         "AND list_contains(?::VARCHAR[], c.name)", [list(names)])
            df = self.store.query_df(sql, params)
            df = df[df["n"] > 0]
            return _split(pd.DataFrame({"part": df["part"], "name": df["name"], "mean": df["total"] / df["n"]}),
                          parts, ["name", "mean"])
        tags, tag_params = _tags(parts, "l.rubric_id")
        df = self._frame(parts[0][1], f""", {LATEST_CTE}, calls_in AS (
            SELECT unnest({tags}) AS part, c.call_id FROM visible c JOIN latest l ON l.call_id = c.call_id)
            SELECT t.part, m.name, fsum(m.value) / count(m.value) AS mean FROM call_metrics m
            JOIN calls_in t ON t.call_id = m.call_id WHERE list_contains(?::VARCHAR[], m.name) GROUP BY ALL""",
                         [*tag_params, list(names)], ["part", "name", "mean"], parts=parts)
        return _split(df, parts, ["name", "mean"])

    def period_profiles(self, viewer: Viewer, period: Period) -> pd.DataFrame:
        """profile, calls, strategy: the period's calls per detected customer profile, and its recommended
        strategy (counted in SQL; the scores per profile are `period_score_sums_many(by='profile')`)."""
        where, params = period.where()
        return self._frame(viewer, f""", {LATEST_CTE}
            SELECT p.profile, count(*) AS calls, min(p.strategy) FILTER (WHERE p.strategy <> '') AS strategy
            FROM call_profiles p JOIN visible c ON c.call_id = p.call_id
            JOIN latest l ON l.call_id = c.call_id WHERE {where} GROUP BY p.profile ORDER BY p.profile""", params,
                           ["profile", "calls", "strategy"], period=period)

    def _day_spans(self, parts: Parts) -> list[tuple[date, date]] | None:
        """Each part's first and last day when the day totals can answer for them (current, same time zone, whole
        days), else None (read the item rows)."""
        tz = parts[0][2].tz
        spans = [p.days() for _, _, p in parts]
        if any(s is None for s in spans) or any(p.tz != tz for _, _, p in parts) or not self.db.is_file():
            return None
        ok = self._day_totals.get(tz)
        if ok is None:
            ok = day_totals.usable(self.store.query, tz)
            if self._latest_reviews is not None:  # inside a snapshot: checked once
                self._day_totals[tz] = ok
        return spans if ok else None  # type: ignore[return-value]

    def _days_sql(self, parts: Parts, spans: list[tuple[date, date]], table: str, select: Callable[[str], str],
                  extra: str = "", extra_params: list[Any] | None = None) -> tuple[str, list[Any]]:
        """One SELECT per part over a day-totals table `c`: the part's scope, agents, days and narrowing;
        `select(part name)` gives the columns after `part`."""
        selects, params = [], []
        for (name, viewer, period), (first, last) in zip(parts, spans):
            scope, scope_params = viewer.scope.sql("c")
            narrowing, narrowing_params = period.narrowing("c.rubric_id")
            selects.append(f"""SELECT ?::VARCHAR AS part, {select(name)} FROM {table} c
                WHERE ({scope}) AND list_contains(?::VARCHAR[], c.agent_id) AND c.day >= ? AND c.day <= ?
                {narrowing} {extra} GROUP BY ALL""")
            params += [name, *scope_params, list(period.agents), first, last, *narrowing_params, *(extra_params or [])]
        return " UNION ALL ".join(selects), params

    def _fails_since(self, viewer: Viewer, period: Period, need: int) -> date | None:
        """The latest day from which on every item failed at least `need` times (automatic outcomes, from the day
        totals), or the period's first day for an item that failed fewer times; None without usable totals."""
        parts: Parts = [("one", viewer, period)]
        spans = self._day_spans(parts)
        if spans is None:
            return None
        sql, params = self._days_sql(parts, spans, "coach_item_days", lambda _: "c.item_id, c.day, sum(c.failed) AS f")
        found = self.store.query(f"""WITH d AS ({sql}), cum AS (
                SELECT item_id, day, sum(f) OVER (PARTITION BY item_id ORDER BY day DESC) AS total FROM d WHERE f > 0)
            SELECT min(since) FROM (SELECT item_id, coalesce(max(day) FILTER (WHERE total >= ?), ?) AS since
                                    FROM cum GROUP BY item_id)""", [*params, need, spans[0][0]])
        return found[0][0] if found and found[0][0] is not None else spans[0][0]

    def _item_days(self, parts: Parts, spans: list[tuple[date, date]], per_agent: Collection[str]) -> pd.DataFrame:
        """Automatic outcome counts of every part from the day totals (reviewed calls included, as automatic)."""
        sql, params = self._days_sql(parts, spans, "coach_item_days", lambda name: f"""{'c.agent_id' if name in per_agent
            else 'NULL::VARCHAR'} AS agent_id, c.section_id, c.item_id, bool_or(c.critical) AS critical,
            sum(c.applicable)::BIGINT AS applicable, sum(c.passed)::BIGINT AS passed, sum(c.failed)::BIGINT AS failed,
            sum(c.na)::BIGINT AS na""")
        return self.store.query_df(sql, params)

    def period_item_counts_many(self, parts: Parts, per_agent: Collection[str] = ()) -> dict[str, pd.DataFrame]:
        """item_id (parts in `per_agent`: agent_id, section_id, item_id), critical, applicable, passed, failed, na:
        each part's effective outcomes in one read (of the day totals when current, else of the item rows):
        counted in SQL over the calls nobody reviewed, in Python (reviews applied) over the few that were."""
        reviewed_ids = sorted({c for _, _, period in parts for c in self._reviewed_in(period)})
        tags, tag_params = _tags(parts, "l.rubric_id")  # per call (not per item row): which parts it is in
        cols = "i.call_id, i.rubric_id, i.rubric_version, " + ", ".join("i." + f for f in ITEM_RESULT_FIELDS)
        tagged = f""", {LATEST_CTE}, calls_in AS (
            SELECT unnest({tags}) AS part, c.agent_id, l.call_id, l.rubric_id, l.rubric_version,
                   list_contains(?::VARCHAR[], c.call_id) AS reviewed
            FROM visible c JOIN latest l ON l.call_id = c.call_id),
            tagged AS (SELECT t.part, t.agent_id, t.reviewed, {cols} FROM item_results i JOIN calls_in t ON t.call_id = i.call_id
                WHERE t.rubric_id = i.rubric_id AND t.rubric_version = i.rubric_version AND i.source = 'auto')"""
        by = ["part", "agent_id", "section_id", "item_id"]
        spans = self._day_spans(parts)
        from_days = spans is not None
        counts = self._item_days(parts, spans, per_agent) if spans is not None else self._frame(parts[0][1], tagged + """
            SELECT part, CASE WHEN list_contains(?::VARCHAR[], part) THEN agent_id END AS agent_id, section_id, item_id,
                   bool_or(critical) AS critical,
                   count(*) FILTER (WHERE outcome IN ('pass', 'fail')) AS applicable,
                   count(*) FILTER (WHERE outcome = 'pass') AS passed,
                   count(*) FILTER (WHERE outcome = 'fail') AS failed,
                   count(*) FILTER (WHERE outcome = 'na') AS na
            FROM tagged WHERE NOT reviewed GROUP BY ALL""",
            [*tag_params, reviewed_ids, list(per_agent)], [*by, "critical", "applicable", "passed", "failed", "na"],
            parts=parts)
        if reviewed_ids:
            rows = self._frame(parts[0][1], tagged + " SELECT * EXCLUDE (reviewed) FROM tagged WHERE reviewed",
                               [*tag_params, reviewed_ids], [], parts=parts, ids=reviewed_ids)
            if len(rows):
                rows["agent_id"] = [a if p in per_agent else None for p, a in zip(rows["part"], rows["agent_id"])]
                effective = self._reviewed_outcomes(rows, ["part", "agent_id"], by)
                if from_days:  # the day totals hold the reviewed calls' automatic outcomes: take them out
                    auto = count_outcomes(rows, by)
                    auto[["applicable", "passed", "failed", "na"]] *= -1
                    auto["critical"] = False
                    effective = pd.concat([auto, effective], ignore_index=True)
                counts = add_counts(counts, effective, by)
        out = _split(counts, parts, [*by[1:], "critical", "applicable", "passed", "failed", "na"])
        for name in out:
            if name not in per_agent:
                df = out[name]
                out[name] = sum_counts(df, ["item_id"]) if len(df) else pd.DataFrame(
                    columns=["item_id", "critical", "applicable", "passed", "failed", "na"])
        return out

    def _reviewed_outcomes(self, rows: pd.DataFrame, extra: list[str], by: list[str]) -> pd.DataFrame:
        """Effective outcome counts of reviewed calls' automatic item rows (with the `extra` columns), by `by`."""
        ids = ["call_id", "rubric_id", "rubric_version"]
        results = to_results(rows.drop_duplicates([*ids, "item_id"]))  # each scoring's rows once, whatever its parts
        overlay = self._overlay(sorted(results))
        applied = {key: overlay.items(key, found) for key, found in results.items()}
        out = []
        for cid, rid, ver, *values in rows[[*ids, *extra]].drop_duplicates().itertuples(index=False):
            for r in applied[(str(cid), str(rid), str(ver))]:
                out.append({**dict(zip(extra, values)), "rubric_id": rid, "section_id": r.section_id,
                            "item_id": r.item_id, "outcome": r.outcome, "critical": r.critical})
        return count_outcomes(pd.DataFrame(out), by)

    def period_score_sums_many(self, parts: Parts, by: Literal["week", "profile"],
                               sections: bool = True) -> dict[str, pd.DataFrame]:
        """key (the week's Monday in the parts' time zone, or the customer profile), measure, n, total over each
        part's calls, in one read: measure `score` (n scored calls, total of their scores), `auto_failed` (n
        calls, total auto-fails) and `section:<id>` (section scores; left out when `sections` is false, so no
        call's section JSON is parsed). Summed in SQL over the calls nobody reviewed; a key holding a reviewed
        call gets its other calls' values as a list too, so its total is one exact sum (`math.fsum`) with the
        reviewed calls' effective values."""
        tz = parts[0][2].tz
        key, key_params, join = ((WEEK_SQL, [tz], "") if by == "week" else
                                 ("p.profile", [], "JOIN call_profiles p ON p.call_id = c.call_id"))
        reviewed_ids = sorted({c for _, _, period in parts for c in self._reviewed_in(period)})
        tags, tag_params = _tags(parts, "l.rubric_id")
        base = f""", {LATEST_CTE}, base AS (
            SELECT unnest({tags}) AS part, {key} AS key, c.call_id, l.rubric_id, l.rubric_version, l.score_pct,
                   l.auto_failed, l.sections_json, list_contains(?::VARCHAR[], c.call_id) AS reviewed
            FROM visible c JOIN latest l ON l.call_id = c.call_id {join})"""
        args = [*tag_params, *key_params, reviewed_ids]
        sums = self._frame(parts[0][1], base + """, clean AS (SELECT * FROM base WHERE NOT reviewed),
            dirty AS (SELECT DISTINCT part, key FROM base WHERE reviewed),
            measures AS (SELECT part, key, 'score' AS measure, score_pct AS value FROM clean
                UNION ALL SELECT part, key, 'auto_failed', CASE WHEN auto_failed THEN 1.0 ELSE 0.0 END FROM clean
                """ + ("""UNION ALL SELECT b.part, b.key, 'section:' || j.key, j.value::DOUBLE
                    FROM clean b, json_each(b.sections_json) j""" if sections else "") + """)
            SELECT m.part, m.key, m.measure, count(m.value) AS n, fsum(m.value) AS total,
                   CASE WHEN d.key IS NOT NULL THEN list(m.value) FILTER (WHERE m.value IS NOT NULL) END AS vals
            FROM measures m LEFT JOIN dirty d ON d.part = m.part AND d.key IS NOT DISTINCT FROM m.key
            GROUP BY m.part, m.key, m.measure, d.key""", args, ["part", *SUM_COLUMNS, "vals"], parts=parts)
        rows = self._frame(parts[0][1], base + """ SELECT part, key, call_id, rubric_id, rubric_version, score_pct,
            auto_failed, sections_json FROM base WHERE reviewed""", args, [], parts=parts) if reviewed_ids else []
        cols = ["part", *SUM_COLUMNS]
        if not len(rows):
            return _split(sums.drop(columns=["vals"]), parts, SUM_COLUMNS)
        keys: list[Key] = [(str(c), str(r), str(v)) for c, r, v in
                           zip(rows["call_id"], rows["rubric_id"], rows["rubric_version"])]
        overlay = self._overlay(sorted(set(keys)))
        auto: dict[Key, list] = {}
        for name, viewer, _ in parts:  # each part's automatic items under that part's scope
            mine = sorted({k for k, p in zip(keys, rows["part"]) if p == name and overlay.covers(k)} - set(auto))
            auto.update(to_results(self._auto_items(viewer, mine)) if mine else {})
        values: dict[tuple[Any, Any, str], list[float]] = {}  # (part, key, measure) -> the reviewed calls' values
        for row, k in zip(rows.itertuples(), keys):
            score = overlay.score(k, auto.get(k, [])) if overlay.covers(k) else None
            value, failed, by_section = ((score.score_pct, score.auto_failed, dict(score.sections)) if score is not None
                                         else (row.score_pct, row.auto_failed, _json_dict(row.sections_json)))
            add = lambda measure, v: values.setdefault((row.part, row.key, measure), []).append(float(v))  # noqa: E731
            values.setdefault((row.part, row.key, "score"), [])
            if not _missing(value):
                add("score", value)
            add("auto_failed", 0.0 if _missing(failed) else float(bool(failed)))
            for sid, v in (by_section.items() if sections else ()):
                if not _missing(v):
                    add(f"section:{sid}", v)
        out = []
        for part, key_, measure, n, total, vals in sums.itertuples(index=False):
            extra = values.pop((part, key_, measure), None)
            if extra is None:
                out.append((part, key_, measure, n, total))
            else:  # one exact sum over every call of the key
                both = [float(v) for v in (vals if vals is not None else [])] + extra
                out.append((part, key_, measure, len(both), math.fsum(both)))
        out += [(part, key_, measure, len(v), math.fsum(v)) for (part, key_, measure), v in values.items()]
        return _split(pd.DataFrame(out, columns=cols), parts, SUM_COLUMNS)

    def summary_rows(self, viewer: Viewer, call_ids: list[str]) -> list[dict]:
        """Per-call summary for the CLI (call id, agent, duration, language, effective score, failed items)."""
        if not call_ids:
            return []
        calls = self.list_calls(viewer)
        calls = calls[calls["call_id"].isin(call_ids) & calls["status"].isin(["ok", "unscored"])].sort_values("call_id")
        keys = [(str(c), str(r), str(v)) for c, r, v in zip(calls["call_id"], calls["rubric_id"], calls["rubric_version"])
                if not _missing(r)]
        overlay = self._overlay(keys)
        results = to_results(self._auto_items(viewer, keys))  # one query for every call's items
        failed = {k: sorted(r.item_id for r in overlay.items(k, results.get(k, [])) if r.outcome == "fail") for k in keys}
        out = []
        for r in calls.itertuples():
            key = (str(r.call_id), str(r.rubric_id), str(r.rubric_version))
            out.append({"call_id": r.call_id, "agent_id": r.agent_id, "duration_s": r.duration_s, "language": r.language,
                        "score_pct": None if _missing(r.score_pct) else float(r.score_pct),
                        "band": None if _missing(r.band) else r.band,
                        "auto_failed": False if _missing(r.auto_failed) else bool(r.auto_failed),
                        "failed_items": ", ".join(failed.get(key, [])) or None, "reviewed": bool(r.reviewed)})
        self._add_quality(out)
        return out

    def _add_quality(self, rows: list[dict]) -> None:
        """Audio-quality flags per call, and for an unscored call (qa.quality) the reason instead of failed items."""
        if not rows:
            return
        marks = ", ".join("?" * len(rows))
        facts = {c: (status, error, _json_dict(stats)) for c, status, error, stats in self.store.query(
            f"SELECT call_id, status, error, stats_json FROM calls WHERE call_id IN ({marks})", [r["call_id"] for r in rows])}
        for row in rows:
            status, error, stats = facts.get(row["call_id"], ("ok", None, {}))
            row["quality"] = ", ".join(stats.get("audio_quality", {}).get("flags", [])) or "ok"
            if status == "unscored":  # stored, kept out of every aggregate: say why instead of a score
                row["failed_items"] = f"UNSCORED: {error}"

    # --- contact-centre KPIs (qa/kpi/) -------------------------------------------------
    def kpi_calls(self, viewer: Viewer, start: Any, end: Any, as_of: Any, agents: tuple[str, ...] | None = None,
                  queue: str | None = None, language: str | None = None) -> pd.DataFrame:
        """Per-call KPI rows (`call_kpis`) of the viewer's processed calls started in [start, end), with the FCR
        status as of `as_of`; `pending` marks calls the last refresh has not seen yet. No customer id leaves."""
        from qa.kpi.fcr import status_sql

        where, params = "c.status IN ('ok', 'unscored') AND c.started_at >= ? AND c.started_at < ?", [start, end]
        if agents is not None:
            where, params = where + " AND list_contains(?::VARCHAR[], c.agent_id)", [*params, list(agents)]
        if queue is not None:
            where, params = where + " AND c.queue = ?", [*params, queue]
        if language is not None:
            where, params = where + " AND c.language = ?", [*params, language]

        def read(kpis: str) -> pd.DataFrame:
            return self._frame(viewer, f"""SELECT c.call_id, c.agent_id, c.agent_name, c.queue, c.started_at,
                       c.duration_s, {status_sql('k')} AS fcr_status, k.call_id IS NULL AS pending, k.talk_s, k.hold_s,
                       k.hold_count, k.after_call_gap_s, k.latency_mean_s, k.latency_max_s, k.unannounced_wait_max_s,
                       k.csat, k.csat_estimate, k.window_ends_at
                FROM visible c LEFT JOIN {kpis} k ON k.call_id = c.call_id WHERE {where}
                ORDER BY c.started_at, c.call_id""", [as_of, *params], KPI_CALL_COLUMNS)

        df = read("call_kpis")
        if df.empty and self.db.is_file() and not self.store.query(
                "SELECT 1 FROM duckdb_tables() WHERE table_name = 'call_kpis'"):
            # a store from before the KPIs, never refreshed: its calls read as pending, not as absent
            df = read("""(SELECT NULL::VARCHAR AS call_id, NULL::BOOLEAN AS customer_known, NULL::BOOLEAN AS is_first,
                NULL::VARCHAR AS repeat_call_id, NULL::TIMESTAMPTZ AS window_ends_at, NULL::DOUBLE AS talk_s,
                NULL::DOUBLE AS hold_s, NULL::INTEGER AS hold_count, NULL::DOUBLE AS after_call_gap_s,
                NULL::DOUBLE AS latency_mean_s, NULL::DOUBLE AS latency_max_s, NULL::DOUBLE AS unannounced_wait_max_s,
                NULL::INTEGER AS csat, NULL::DOUBLE AS csat_estimate WHERE false)""")
        return df


Parts = list[tuple[str, Viewer, Period]]  # (name, viewer, period): one read answering for several


def _union(parts: Parts) -> tuple[str, list[Any]]:
    """`visible` for several parts: the calls of any part's agents and times, each under its viewer's scope."""
    preds, params = [], []
    for _, viewer, period in parts:
        scope, scope_params = viewer.scope.sql("c")
        preds.append(f"(list_contains(?::VARCHAR[], c.agent_id) AND c.started_at >= ? AND c.started_at < ? AND ({scope}))")
        params += [list(period.agents), period.start, period.end, *scope_params]
    return " OR ".join(preds) or "FALSE", params


def _tags(parts: Parts, rubric_column: str) -> tuple[str, list[Any]]:
    """A list expression of the names of the parts a row belongs to (its scope and period's condition hold);
    `unnest` of it gives one row per part."""
    cases, params = [], []
    for name, viewer, period in parts:
        scope, scope_params = viewer.scope.sql("c")
        where, where_params = period.where(rubric_column)
        cases.append(f"CASE WHEN ({scope}) AND {where} THEN ?::VARCHAR END")
        params += [*scope_params, *where_params, name]
    return f"list_filter([{', '.join(cases)}], lambda x: x IS NOT NULL)", params


def _split(df: pd.DataFrame, parts: Parts, columns: list[str]) -> dict[str, pd.DataFrame]:
    """A multi-part answer (column `part`) as one frame per part name."""
    return {name: df[df["part"] == name].drop(columns=["part"]).reset_index(drop=True) if len(df)
            else pd.DataFrame(columns=columns) for name, _, _ in parts}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return True


def _json_dict(text: Any) -> dict:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
