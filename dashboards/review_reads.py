"""The pages' way into the review desk (`qa.review`: queue, overrides, sign-off, timeline, disputes,
calibration) and the repository's filtered, searched call lists, with cached reads.

Every cached read is keyed by the store's version (`ui.store_version`: a saved review, a dispute, a
queue change or a batch write gives new keys) and by the viewer, so no viewer is ever served rows
cached for another's scope. Writes go straight to the desk, which checks role and scope and audits.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards import data, ui
from dashboards.list_filters import ListFilters
from qa.access.model import Viewer


def available() -> bool:
    """True when the review desk (branch `review`) is installed in this checkout."""
    try:
        import qa.review.desk  # noqa: F401
    except ImportError:
        return False
    return True


def desk(db: str) -> Any:
    from qa.review.desk import ReviewDesk

    return ReviewDesk(data.repo(db))


def _cached(fn):
    return st.cache_data(ttl=ui.CACHE_TTL_S, max_entries=ui.CACHE_ENTRIES, show_spinner=False)(fn)


@_cached
def _queue(db: str, version: tuple, who: Viewer, status: str | None, assignee: str | None) -> list:
    return desk(db).queue(who, status=status, assignee=assignee)


def queue(db: str, status: str | None = None, everyone: bool = False) -> list:
    return _queue(db, ui.store_version(db), ui.viewer(), status, None if everyone else "me")


@_cached
def _neighbours(db: str, version: tuple, who: Viewer, call_id: str) -> Any:
    return desk(db).neighbours(who, call_id)


def neighbours(db: str, call_id: str) -> Any:
    return _neighbours(db, ui.store_version(db), ui.viewer(), call_id)


@_cached
def _timeline(db: str, version: tuple, who: Viewer, call_id: str) -> list:
    return desk(db).timeline(who, call_id)


def timeline(db: str, call_id: str) -> list:
    return _timeline(db, ui.store_version(db), ui.viewer(), call_id)


@_cached
def _auto_fail_note(db: str, version: tuple, who: Viewer, call_id: str) -> Any:
    return desk(db).auto_fail_note(who, call_id)


def auto_fail_note(db: str, call_id: str) -> Any:
    return _auto_fail_note(db, ui.store_version(db), ui.viewer(), call_id)


@_cached
def _disputes(db: str, version: tuple, who: Viewer, call_id: str | None, status: str | None) -> list:
    return desk(db).disputes(who, call_id=call_id, status=status)


def disputes(db: str, call_id: str | None = None, status: str | None = None) -> list:
    return _disputes(db, ui.store_version(db), ui.viewer(), call_id, status)


@_cached
def _find(db: str, version: tuple, who: Viewer, filters: ListFilters, limit: int, offset: int) -> Any:
    return data.repo(db).find_calls(who, filters.query(limit, offset))


def find_calls(db: str, filters: ListFilters, limit: int, offset: int) -> Any:
    """One page of the viewer's calls under `filters` (rows, total, search hits per call)."""
    return _find(db, ui.store_version(db), ui.viewer(), filters, limit, offset)


@_cached
def _calibration(db: str, version: tuple, who: Viewer, since: Any, until: Any, rubric_id: str | None) -> Any:
    from qa.review.calibration import agreement

    return agreement(data.repo(db), who, since=since, until=until, rubric_id=rubric_id)


def calibration(db: str, since: Any = None, until: Any = None, rubric_id: str | None = None) -> Any:
    return _calibration(db, ui.store_version(db), ui.viewer(), since, until, rubric_id)


def sessions(db: str) -> Any:
    from qa.review.calibration import CalibrationSessions

    return CalibrationSessions(data.repo(db))


def page_start(title: str, what: str, reviewers_only: str | None = None) -> str | None:
    """The review pages' opening: title, a readable store, the desk installed and (with `reviewers_only`,
    the refusal to show) a reviewing role. Returns the store path, or None when the page has said all."""
    st.title(title)
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return None
    if not available():
        st.info(f"{what} the review desk (qa.review), which this installation does not have.")
        return None
    if reviewers_only and not ui.viewer().can_review:
        st.info(reviewers_only)
        return None
    return db


def status_choice(options: dict[str, str], key: str, default: str) -> str:
    """A status picker kept in the URL (`?status=`), so the view can be shared and survives navigation."""
    status = st.query_params.get("status", default)
    status = status if status in options else default
    picked = st.segmented_control("Show", list(options), default=status, format_func=options.get, key=key)
    if picked and picked != status:
        st.query_params["status"] = picked
        status = picked
    return status
