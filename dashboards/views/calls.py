"""Calls page: the viewer's calls, filtered and searched, a page of rows at a time; a row opens the call.

The filters live in the URL (`dashboards/list_filters.py`): a filtered list can be shared as a link,
survives opening a call and coming back, and the call page's previous / next follow it. The
search box looks for words said in the calls (Turkish-folded: "sahin" finds "ŞAHİN", "siparisimin"
finds "siparişimin"; each word may be the start of a longer one) through the repository's
`find_calls`, in SQL with bound parameters; the matching line and its time are shown.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import conversation, review_reads, ui
from dashboards.fmt import band_label, is_missing, mmss, text_or_empty
from dashboards.list_filters import DIRECTIONS, REVIEW_STATUS, REVIEWED, TRENDS, ListFilters
from dashboards.rubric_info import rubric_info
from dashboards.scorecard_html import colour

TABLE_KEY = "calls_table"
PAGE_SIZE = 50
ROW_PX, HEAD_PX, SCROLLBAR_PX = 35, 38, 18
REVIEWED_TEXT = {"reviewed": "reviewed", "unreviewed": "not reviewed", "signed_off": "signed off",
                 "disputed": "disputed"}
STATUS_TEXT = {"to_review": "to review", "in_review": "in review", "done": "done", "queued": "in the queue (any)"}
TREND_TEXT = {"improved": "improved", "steady": "steady", "worsened": "worsened"}
_CRITICAL = re.compile(r"critical item failed: (.*)")
_ID_REASON = re.compile(r"([A-Za-z0-9_\-]+) \(")


def _current() -> ListFilters:
    return ListFilters.from_params(st.query_params.to_dict())


def _set(**changes) -> None:
    """Widget callback: the new filter values go into the URL (page back to 1); the next run reads them."""
    new = _current().replace(page=1, **changes)
    call_id = st.query_params.get("call_id")
    st.query_params.from_dict(new.to_params())
    if call_id:
        st.query_params.pop("call_id", None)


def _from_widget(name: str, key: str, kind: type = str) -> None:
    value = st.session_state.get(key)
    if kind is tuple:
        value = tuple(value or ())
    elif kind is bool:
        value = bool(value)
    elif value is None:
        value = ""
    _set(**{name: value})


def _sync(key: str, value) -> None:
    """Show the URL's value in a widget (after back / a shared link) without fighting the user's edit."""
    if key not in st.session_state or st.session_state.get(f"{key}__url") != value:
        st.session_state[key] = value
        st.session_state[f"{key}__url"] = value


def _item_titles() -> dict[str, str]:
    """Item id -> its titles over the rubrics in the rubric directory ("Selamlama ve firma adı / Greeting ...")."""
    out: dict[str, list[str]] = {}
    for path in sorted(Path(ui.rubric_dir()).glob("*.y*ml")):
        info = rubric_info(path.stem, ui.rubric_dir())
        for iid, item in (info.items.items() if info else []):
            if item.title not in out.setdefault(iid, []):
                out[iid].append(item.title)
    return {k: " / ".join(v) for k, v in out.items()}


def _filters(db: str, f: ListFilters) -> None:
    """The sidebar: every filter reads from and writes to the URL."""
    facets = ui.facets(db)
    sb = st.sidebar
    sb.subheader("Find calls")
    _sync("f_q", f.q)
    sb.text_input("Said in the call", key="f_q", placeholder="e.g. siparis, iade", on_change=_from_widget,
                  args=("q", "f_q"), help="Words said by anyone in the call; Turkish letters optional.")
    _sync("f_agent", f.agent)
    sb.text_input("Agent", key="f_agent", placeholder="name or id", on_change=_from_widget, args=("agent", "f_agent"))
    titles = _item_titles()
    _sync("f_item", f.item or None)
    sb.selectbox("Failed item", sorted(titles, key=lambda k: titles[k].casefold()), key="f_item", index=None,
                 format_func=lambda k: titles.get(k, k), placeholder="any", on_change=_from_widget,
                 args=("item", "f_item"))
    queues = facets["queue"]
    _sync("f_queue", [q for q in f.queue if q in queues])
    sb.multiselect("Queue", queues, key="f_queue", on_change=_from_widget, args=("queue", "f_queue", tuple))
    _sync("f_dir", list(f.direction))
    sb.multiselect("Direction", DIRECTIONS, key="f_dir", on_change=_from_widget, args=("direction", "f_dir", tuple))
    _sync("f_reviewed", f.reviewed or None)
    sb.selectbox("Reviewed", REVIEWED, key="f_reviewed", index=None, format_func=REVIEWED_TEXT.get, placeholder="any",
                 on_change=_from_widget, args=("reviewed", "f_reviewed"))
    if review_reads.available():
        _sync("f_status", f.status or None)
        sb.selectbox("Review queue", REVIEW_STATUS, key="f_status", index=None, format_func=STATUS_TEXT.get,
                     placeholder="any", on_change=_from_widget, args=("status", "f_status"))
    _sync("f_roles", f.roles_uncertain)
    sb.checkbox("Roles uncertain", key="f_roles", on_change=_from_widget, args=("roles_uncertain", "f_roles", bool))
    from qa.profiles import load_profiles

    profiles = sorted(load_profiles())
    _sync("f_profile", [p for p in f.profile if p in profiles])
    sb.multiselect("Customer profile", profiles, key="f_profile", format_func=conversation.profile_label,
                   on_change=_from_widget, args=("profile", "f_profile", tuple))
    _sync("f_trend", [t for t in f.trend if t in TRENDS])
    sb.multiselect("Customer sentiment", TRENDS, key="f_trend", format_func=TREND_TEXT.get,
                   on_change=_from_widget, args=("trend", "f_trend", tuple))
    languages = facets["language"]
    _sync("f_lang", [x for x in f.language if x in languages])
    sb.multiselect("Language", languages, key="f_lang", on_change=_from_widget, args=("language", "f_lang", tuple))
    if not f.is_empty():
        sb.button("Clear filters", icon=":material/filter_alt_off:", on_click=lambda: st.query_params.clear())


def _why(row: pd.Series, titles: dict[str, str]) -> str:
    """What the reviewer should know first: why the call failed, or which critical item sank it."""
    if row["status"] == "failed":
        return f"processing failed ({text_or_empty(row['error_stage']) or '?'}): {text_or_empty(row['error'])}"
    reason = text_or_empty(row["auto_fail_reason"])
    if row.get("auto_failed") is True or (not is_missing(row.get("auto_failed")) and bool(row.get("auto_failed"))):
        m = _CRITICAL.search(reason)
        ids = _ID_REASON.findall(m.group(1)) if m else []
        named = ", ".join(titles.get(i, i).split(" / ")[0] for i in ids)
        return f"auto-fail: {named}" if named else "auto-fail"
    return ""


def _table(rows: pd.DataFrame, hits: dict, titles: dict[str, str]) -> pd.DataFrame:
    table = pd.DataFrame({
        "call id": rows["call_id"].astype(str),
        "agent": rows["agent_name"].fillna(rows["agent_id"]).astype(str),
        "score %": ["–" if is_missing(v) else f"{float(v):.1f}" for v in pd.to_numeric(rows["score_pct"], errors="coerce")],
        "band": [band_label(b) if s == "ok" else "–" for b, s in zip(rows["band"], rows["status"])],
        "why": [_why(r, titles) for _, r in rows.iterrows()],
        "started": pd.to_datetime(rows["started_at"], errors="coerce"),
        "duration": [mmss(d) if s == "ok" else "–" for d, s in zip(rows["duration_s"], rows["status"])],
        "queue": rows["queue"].fillna("–"),
        "dir.": rows["direction"].fillna("–"),
        "failed items": pd.to_numeric(rows["failed_items"], errors="coerce").astype("Int64"),
        "reviewed": rows["reviewed"].astype("boolean") if "reviewed" in rows else False,
    })
    if hits:
        table.insert(4, "said", [
            (f"{mmss(hits[c][0].start_s)} “{hits[c][0].text}”" if hits.get(c) else "") for c in table["call id"]])
    return table.reset_index(drop=True)


def _styled(table: pd.DataFrame, rows: pd.DataFrame):
    """Score coloured by band (red only for an auto-fail)."""
    colours = [colour(b, bool(a) if not is_missing(a) else False) for b, a in zip(rows["band"], rows["auto_failed"])]
    return table.style.apply(lambda _: [f"color: {c}; font-weight: 600" for c in colours], subset=["score %"])


def _open(call_id: str, f: ListFilters) -> None:
    st.switch_page("views/call.py", query_params={**f.to_params(), "call_id": call_id})


def _pager(f: ListFilters, total: int) -> None:
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    if pages == 1:
        return
    cols = st.columns([1, 1, 3], vertical_alignment="center")
    cols[0].button("Newer", icon=":material/chevron_left:", disabled=f.page <= 1, key="pg_prev",
                   on_click=lambda: st.query_params.update(page=str(f.page - 1)))
    cols[1].button("Older", icon=":material/chevron_right:", disabled=f.page >= pages, key="pg_next",
                   on_click=lambda: st.query_params.update(page=str(f.page + 1)))
    cols[2].caption(f"page {f.page} of {pages}")


def render() -> None:
    st.title("Calls")
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return
    f = _current()
    _filters(db, f)
    page = review_reads.find_calls(db, f, PAGE_SIZE, (f.page - 1) * PAGE_SIZE)
    shown = f"{page.total} calls" + (" match" if not f.is_empty() else "")
    st.caption(f"{shown} · newest first · select a row to open the call")
    if page.rows.empty:
        st.info("No calls match the filters." if not f.is_empty() else "No calls you may see are stored yet.")
        return
    titles = _item_titles()
    table = _table(page.rows, page.hits, titles)
    height = HEAD_PX + ROW_PX * len(table) + SCROLLBAR_PX  # every row visible; the scrollbar below the last
    event = st.dataframe(
        _styled(table, page.rows), key=TABLE_KEY, hide_index=True, on_select="rerun", selection_mode="single-row",
        height=height,
        column_config={
            "call id": st.column_config.TextColumn(pinned=True, width=120),
            "agent": st.column_config.TextColumn(width=130),
            "score %": st.column_config.TextColumn(width=70),
            "band": st.column_config.TextColumn(width=120),
            "why": st.column_config.TextColumn(width=280, help="Why the call failed processing or auto-failed"),
            "said": st.column_config.TextColumn(width=300, help="The first line that matched the search"),
            "started": ui.time_column("started"),
            "duration": st.column_config.TextColumn(width=70),
            "queue": st.column_config.TextColumn(width=80),
            "dir.": st.column_config.TextColumn(width=75),
            "failed items": st.column_config.NumberColumn(width=90),
            "reviewed": st.column_config.CheckboxColumn(width=80),
        },
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        _open(str(table.iloc[rows[0]]["call id"]), f)
    _pager(f, page.total)
    log = ui.failures(db)
    if not log.empty:
        with st.expander(f"Failed attempts log ({len(log)} most recent)"):
            st.dataframe(log, hide_index=True, column_config={"failed_at": ui.time_column("failed at")})


ui.run_page(render)
