"""Streamlit glue shared by the pages: the database path, the signed-in viewer, short-lived caches,
empty states, the audio URL.

Every read goes through `dashboards.data` with the session's viewer (set by `dashboards/app.py`
before each page runs); the viewer is part of every cache key, so one user's cached rows are
never another's, and so is the store's version (`store_version`): a write by the batch or a saved
review gives new keys at once. The call page's player (`dashboards/player.py`) plays callqa's own
authenticated audio route (`dashboards/audio_route.py`), never a file path or Streamlit's /media.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.rubric_info import default_rubric_dir
from qa.access.model import Viewer
from qa.store import StoreBusy

CACHE_TTL_S = 600
CACHE_ENTRIES = 256
DB_KEY = "callqa_db"
VIEWER_KEY = "callqa_viewer"
OPENED_KEY = "callqa_opened_calls"
AUDIO_ROUTE = "/callqa/audio/"
EMPTY_MESSAGE = "No calls yet — run `callqa process ...` to transcribe and score recordings into"


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _facets(db: str, version: tuple, who: Viewer) -> dict[str, list[str]]:
    calls = data.list_calls(db, who)
    return {col: sorted(str(v) for v in calls[col].dropna().unique()) for col in ("queue", "language", "direction")}


def facets(db: str) -> dict[str, list[str]]:
    """The values the list's filters offer (queues, languages); keyed by the store file alone, so a
    saved review (which changes no queue or language) does not recompute them."""
    return _facets(db, store_version(db, main_only=True), viewer())


def store_version(db: str, main_only: bool = False) -> tuple:
    """What a cached read depends on: the modification times and sizes of the store, its write-ahead log
    and the files beside it that reviews, disputes and the queue write (`<stem>.<kind>.duckdb` and their
    logs; not the access file,
    which every audit row touches). A write anywhere there gives new cache keys; the viewer is part of
    every key too, so one viewer's rows are never served to another."""
    base = Path(db)
    stamps = []
    names = {base.name, base.name + ".wal"}
    for path in sorted({*base.parent.glob(base.name + "*"), *base.parent.glob(f"{base.stem}.*{base.suffix}*")}):
        if ".access." in path.name or path.name.endswith((".lock", ".tmp")):
            continue
        if main_only and path.name not in names:
            continue
        try:
            stamps.append((path.name, path.stat().st_mtime_ns, path.stat().st_size))
        except OSError:
            continue
    return tuple(stamps)


def db_path() -> str:
    """The database for this session: `--db`, else `CALLQA_DB`, else `callqa.duckdb`."""
    if DB_KEY not in st.session_state:
        st.session_state[DB_KEY] = str(data.resolve_db_path(sys.argv[1:]))
    return str(st.session_state[DB_KEY])


def viewer() -> Viewer:
    """The signed-in viewer of this run (resolved by `dashboards/app.py` before the page runs)."""
    return st.session_state[VIEWER_KEY]


def audit_open(db: str, call_id: str) -> None:
    """One audit row per call a session opens."""
    opened = st.session_state.setdefault(OPENED_KEY, set())
    if call_id not in opened:
        from qa.access.audit import AuditLog

        AuditLog(db).record(viewer(), "open_call", call_id)
        opened.add(call_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _store_status(db: str, version: tuple, who: Viewer) -> data.StoreStatus:
    return data.store_status(db, who)


def store_status(db: str) -> data.StoreStatus:
    return _store_status(db, store_version(db), viewer())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _calls(db: str, version: tuple, who: Viewer, rubrics: str) -> pd.DataFrame:
    return data.list_calls(db, who, rubrics)


def calls(db: str) -> pd.DataFrame:
    return _calls(db, store_version(db), viewer(), rubric_dir())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _agents(db: str, version: tuple, who: Viewer, rubrics: str) -> pd.DataFrame:
    return data.agent_summary(db, who, rubrics)


def agents(db: str) -> pd.DataFrame:
    return _agents(db, store_version(db), viewer(), rubric_dir())


def rubric_dir() -> str:
    """Where rubric titles come from (part of cache keys, so a changed directory is honoured)."""
    return str(default_rubric_dir())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _item_rates(db: str, version: tuple, who: Viewer, agent_key: str | None, rubrics: str) -> pd.DataFrame:
    return data.item_pass_rates(db, who, agent_key, rubrics)


def item_rates(db: str, agent_key: str | None) -> pd.DataFrame:
    return _item_rates(db, store_version(db), viewer(), agent_key, rubric_dir())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _failures(db: str, version: tuple, who: Viewer, call_id: str | None = None) -> pd.DataFrame:
    return data.failure_log(db, who, call_id)


def failures(db: str, call_id: str | None = None) -> pd.DataFrame:
    return _failures(db, store_version(db), viewer(), call_id)


def require_calls(db: str) -> data.StoreStatus | None:
    """Show guidance and return None when there is nothing to show; else the store status."""
    try:
        status = store_status(db)
    except Exception as exc:  # defensive: store_status itself catches the expected cases
        st.error(f"Cannot read the call database {db}: {exc}")
        return None
    if status.state == "busy":
        st.warning(f"The call database is busy (the batch is writing): {status.message}. Reload in a moment.",
                   icon=":material/hourglass_top:")
        return None
    if status.state == "error":
        st.error(f"Cannot read the call database: {status.message}", icon=":material/error:")
        return None
    if status.state in ("missing", "empty"):
        st.info(f"{EMPTY_MESSAGE} `{db}`.", icon=":material/inbox:")
        return None
    if status.calls_ok + status.calls_failed == 0:
        st.info("No calls you may see are stored yet.", icon=":material/inbox:")
        return None
    return status


def audio_url(call_id: str, original: bool = False) -> str:
    """The call's audio on callqa's own route, absolute on the origin the browser uses."""
    from urllib.parse import quote, urlparse

    page = urlparse(st.context.url or "http://127.0.0.1:8501/")
    return f"{page.scheme}://{page.netloc}{AUDIO_ROUTE}{quote(call_id, safe='')}" + ("?original=1" if original else "")


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _call_detail(db: str, version: tuple, who: Viewer, call_id: str) -> data.CallDetail | None:
    return data.get_call(db, who, call_id)


def call_detail(db: str, call_id: str) -> data.CallDetail | None:
    return _call_detail(db, store_version(db), viewer(), call_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _utterances(db: str, version: tuple, who: Viewer, call_id: str) -> pd.DataFrame:
    return data.get_utterances(db, who, call_id)


def utterances(db: str, call_id: str) -> pd.DataFrame:
    return _utterances(db, store_version(db), viewer(), call_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _scores(db: str, version: tuple, who: Viewer, call_id: str) -> pd.DataFrame:
    return data.get_scores(db, who, call_id)


def scores(db: str, call_id: str) -> pd.DataFrame:
    return _scores(db, store_version(db), viewer(), call_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _item_results(db: str, version: tuple, who: Viewer, call_id: str, rubric_id: str, rubric_version: str, rubrics: str) -> pd.DataFrame:
    return data.get_item_results(db, who, call_id, rubric_id, rubric_version, rubrics)


def item_results(db: str, call_id: str, rubric_id: str, rubric_version: str) -> pd.DataFrame:
    return _item_results(db, store_version(db), viewer(), call_id, rubric_id, rubric_version, rubric_dir())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _reviewed_score(db: str, version: tuple, who: Viewer, call_id: str, rubric_id: str, rubric_version: str, rubrics: str):
    return data.reviewed_call_score(db, who, call_id, rubric_id, rubric_version, rubrics)


def reviewed_score(db: str, call_id: str, rubric_id: str, rubric_version: str):
    """The call's score after reviews (None when nobody reviewed it)."""
    return _reviewed_score(db, store_version(db), viewer(), call_id, rubric_id, rubric_version, rubric_dir())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_ENTRIES, show_spinner=False)
def _review_history(db: str, version: tuple, who: Viewer, call_id: str) -> pd.DataFrame:
    return data.review_history(db, who, call_id)


def review_history(db: str, call_id: str) -> pd.DataFrame:
    return _review_history(db, store_version(db), viewer(), call_id)


def section_titles(rubric_id: str) -> dict[str, str]:
    return data.section_titles(rubric_id, rubric_dir())


def time_column(label: str) -> "st.column_config.DatetimeColumn":
    """A table column of instants shown in `display_timezone`, the zone in its header."""
    from dashboards.fmt import display_timezone

    tz = display_timezone()
    return st.column_config.DatetimeColumn(f"{label} ({tz})", format="YYYY-MM-DD HH:mm", timezone=tz)


def shared_reads(db: str):
    """The reads of one script run share one read-only connection to the store (opening one costs
    25-50 ms; a call page makes a dozen reads). Writes never go to the store from the dashboard (reviews,
    the queue and the audit trail have their own files), so nothing here waits on this connection; the
    batch writer waits at most for the length of one run."""
    return data.repo(db).store.reading()


def run_page(render: Callable[[], None]) -> None:
    """Run a page; a busy or unreadable database becomes a message instead of a traceback."""
    import time as _t
    t0 = _t.perf_counter()
    try:
        with shared_reads(db_path()):
            render()
    except StoreBusy as exc:
        st.warning(f"The call database is busy (the batch is writing): {exc}. Reload in a moment.",
                   icon=":material/hourglass_top:")
    except duckdb.Error as exc:
        st.error(f"Cannot read the call database `{db_path()}`: {exc}", icon=":material/error:")
    finally:
        if os.environ.get("CALLQA_TIMING"):
            print(f"callqa timing: {render.__module__} {1000 * (_t.perf_counter() - t0):.0f} ms", file=sys.stderr, flush=True)
