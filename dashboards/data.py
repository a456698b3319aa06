"""The dashboard's reads: `qa.access` (the scoped data-access layer) plus rubric titles and filters.

Every function takes the viewer; the scope is applied in the repository's SQL, so a page cannot
read a call its viewer may not see. Filters and search narrow the viewer's rows further (pandas
over already-scoped rows: nothing typed in a box reaches SQL). Nothing here imports Streamlit or
models. Reviews are applied in one place, `qa.access.effective`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from dashboards.fmt import is_missing
from dashboards.rubric_info import rubric_info
from qa.access.model import Viewer
from qa.access.repository import (  # noqa: F401  (re-exported for the pages)
    AGENT_COLUMNS, CALL_COLUMNS, FAILURE_COLUMNS, ITEM_COLUMNS, REVIEW_COLUMNS, SCORE_COLUMNS, UTTERANCE_COLUMNS,
    CallDetail, DuckDBRepository, StoreStatus,
)
from qa.reviews import Review
from qa.rubric.engine import CallScore

DEFAULT_DB = "callqa.duckdb"
STORE_TIMEOUT_S = 20.0  # a page says "busy" rather than hang behind the batch
ITEM_DISPLAY_COLUMNS = ["title", "section_title", "coaching", "order"]
ITEM_RATE_COLUMNS = [
    "rubric_id", "section_id", "item_id", "title", "section_title", "critical", "applicable", "passed",
    "failed", "na", "pass_rate", "coaching",
]


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


def resolve_db_path(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """`--db PATH` from the script arguments, else `CALLQA_DB`, else `callqa.duckdb`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    args, _ = parser.parse_known_args(list(argv or []))
    env = os.environ if env is None else env
    return Path(args.db or env.get("CALLQA_DB") or DEFAULT_DB).expanduser()


def repo(db: str | Path, rubric_dir: str | Path | None = None) -> DuckDBRepository:
    from dashboards.rubric_info import default_rubric_dir

    return DuckDBRepository(db, rubric_dir or default_rubric_dir(), timeout_s=STORE_TIMEOUT_S)


def store_status(db: str | Path, viewer: Viewer) -> StoreStatus:
    """Is there a store at `db`, does it hold calls (the viewer's)? Never raises for a bad file."""
    return repo(db).status(viewer)


def agent_display(agent_id: Any, agent_name: Any) -> str:
    """`Name (id)`, or whichever is known, or `–`."""
    aid = None if is_missing(agent_id) else str(agent_id)
    name = None if is_missing(agent_name) else str(agent_name)
    if aid and name:
        return f"{name} ({aid})"
    return name or aid or "–"


def list_calls(db: str | Path, viewer: Viewer, rubric_dir: str | Path | None = None) -> pd.DataFrame:
    """The viewer's calls, newest first, with their effective score and the number of failed items."""
    return repo(db, rubric_dir).list_calls(viewer)


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


def get_call(db: str | Path, viewer: Viewer, call_id: str) -> CallDetail | None:
    """The call's row and parsed metadata/stats; None when it does not exist or is not the viewer's."""
    return repo(db).call(viewer, call_id)


def get_utterances(db: str | Path, viewer: Viewer, call_id: str) -> pd.DataFrame:
    return repo(db).utterances(viewer, call_id)


def get_scores(db: str | Path, viewer: Viewer, call_id: str) -> pd.DataFrame:
    """Every stored scoring of the call, latest first."""
    return repo(db).scores(viewer, call_id)


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
    db: str | Path, viewer: Viewer, call_id: str, rubric_id: str | None = None, rubric_version: str | None = None,
    rubric_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Effective item results of one scoring of the call (default: its latest), in rubric order."""
    items = repo(db, rubric_dir).item_results(viewer, call_id, rubric_id, rubric_version)
    items = with_rubric_titles(items, rubric_dir)
    return items.sort_values("order", kind="stable").reset_index(drop=True)


def failure_log(db: str | Path, viewer: Viewer, call_id: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Failed processing attempts the viewer may see, newest first (all, or one call id)."""
    return repo(db).failures(viewer, call_id, limit)


def agent_summary(db: str | Path, viewer: Viewer, rubric_dir: str | Path | None = None) -> pd.DataFrame:
    """Per agent over the viewer's processed calls (effective scores)."""
    return repo(db, rubric_dir).agent_summary(viewer)


def item_pass_rates(db: str | Path, viewer: Viewer, agent_key: str | None = None,
                    rubric_dir: str | Path | None = None) -> pd.DataFrame:
    """Pass rate per rubric item (over pass+fail; n/a excluded), most-failed first; one agent or all."""
    df = with_rubric_titles(repo(db, rubric_dir).item_pass_rates(viewer, agent_key), rubric_dir)
    df = df.sort_values(
        ["failed", "critical", "pass_rate", "order"], ascending=[False, False, True, True], na_position="last"
    )
    return df[ITEM_RATE_COLUMNS].reset_index(drop=True)


def save_review(db: str | Path, viewer: Viewer, call_id: str, rubric_id: str, rubric_version: str, item_id: str,
                outcome: str, comment: str | None = None) -> Review:
    """Store the signed-in viewer's outcome for one item (beside the automatic result; history kept; audited)."""
    from qa.access.audit import AuditLog

    review = repo(db).save_review(viewer, call_id, rubric_id, rubric_version, item_id, outcome, comment)
    AuditLog(db).record(viewer, "review", call_id, item_id, outcome=review.outcome, rubric_id=str(rubric_id),
                        rubric_version=str(rubric_version), review_id=review.review_id)
    return review


def review_history(db: str | Path, viewer: Viewer, call_id: str) -> pd.DataFrame:
    """Every review of a call, newest first."""
    return repo(db).review_history(viewer, call_id)


def reviewed_call_score(db: str | Path, viewer: Viewer, call_id: str, rubric_id: str, rubric_version: str,
                        rubric_dir: str | Path | None = None) -> CallScore | None:
    """The call's score with its reviews applied, or None (no reviews, or the rubric file is gone)."""
    return repo(db, rubric_dir).reviewed_score(viewer, call_id, rubric_id, rubric_version)
