"""Calls page: every processed (or failed) call, filterable; selecting a row opens the call."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import data, ui
from dashboards.fmt import band_label, md_escape, mmss, pct, text_or_empty

TABLE_KEY = "calls_table"
FULL_SCORE = (0.0, 100.0)
MAX_FAILURE_BANNERS = 5
MAX_ROWS = 5000  # the table is rebuilt on every rerun; filters narrow bigger stores


def _filters(calls: pd.DataFrame) -> data.CallFilter:
    """Sidebar filter widgets -> a CallFilter (an untouched widget filters nothing)."""
    sb = st.sidebar
    sb.subheader("Filters")
    text = sb.text_input("Search call id / agent", key="f_text", placeholder="e.g. 2025-02 or Ayşe")
    agent_names = (
        calls.dropna(subset=["agent_key"]).drop_duplicates("agent_key").set_index("agent_key")["agent"].to_dict()
    )
    agents = sb.multiselect(
        "Agent", sorted(agent_names, key=lambda k: agent_names[k].casefold()), key="f_agents",
        format_func=lambda k: agent_names.get(k, k),
    )
    dates = sb.date_input("Started between", value=(), key="f_dates", format="YYYY-MM-DD")
    date_from = dates[0] if len(dates) >= 1 else None
    date_to = dates[1] if len(dates) >= 2 else None
    languages = sb.multiselect("Language", sorted(calls["language"].dropna().unique()), key="f_lang")
    bands = sb.multiselect(
        "Band", sorted(calls["band"].dropna().unique()), key="f_band", format_func=band_label
    )
    statuses = sb.multiselect("Status", ["ok", "failed"], key="f_status")
    low, high = sb.slider("Score %", 0.0, 100.0, FULL_SCORE, step=1.0, key="f_score")
    return data.CallFilter(
        agents=agents or None,
        date_from=date_from,
        date_to=date_to,
        languages=languages or None,
        bands=bands or None,
        statuses=statuses or None,
        min_score=low if low > FULL_SCORE[0] else None,
        max_score=high if high < FULL_SCORE[1] else None,
        text=text or None,
    )


def _table(calls: pd.DataFrame) -> pd.DataFrame:
    """The displayed columns; failed calls show their reason in `problem`."""
    problem = [
        f"{text_or_empty(stage) or 'failed'}: {text_or_empty(err)}" if status == "failed" else text_or_empty(reason)
        for status, stage, err, reason in zip(
            calls["status"], calls["error_stage"], calls["error"], calls["auto_fail_reason"].fillna("")
        )
    ]
    return pd.DataFrame(
        {
            "call id": calls["call_id"].astype(str),
            "agent": calls["agent"],
            "started": pd.to_datetime(calls["started_at"], errors="coerce"),
            "duration": [mmss(d) if s == "ok" else "–" for d, s in zip(calls["duration_s"], calls["status"])],
            "language": calls["language"],
            "channels": pd.to_numeric(calls["channels"], errors="coerce").astype("Int64"),
            "score %": pd.to_numeric(calls["score_pct"], errors="coerce"),
            "band": [band_label(b) if s == "ok" else "–" for b, s in zip(calls["band"], calls["status"])],
            "auto-failed": calls["auto_failed"].astype("boolean"),
            "failed items": pd.to_numeric(calls["failed_items"], errors="coerce").astype("Int64"),
            "reviewed": calls["reviewed"].astype("boolean") if "reviewed" in calls else False,
            "status": calls["status"],
            "problem": problem,
        }
    ).reset_index(drop=True)


def _totals(shown: pd.DataFrame, everything: pd.DataFrame) -> None:
    t = data.call_totals(shown)
    cols = st.columns(5)
    cols[0].metric("Calls shown", t.calls, help=f"{len(everything)} calls in the store")
    cols[1].metric("Processed OK", t.ok)
    cols[2].metric("Failed", t.failed)
    cols[3].metric("Average score", pct(t.avg_score))
    cols[4].metric("Auto-failed", t.auto_failed)


def render() -> None:
    st.title("Calls")
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return
    calls = ui.calls(db)
    shown = data.filter_calls(calls, _filters(calls))
    _totals(shown, calls)
    if shown.empty:
        st.info("No calls match the filters.")
    else:
        listed = shown.head(MAX_ROWS)
        more = f" Showing the newest {MAX_ROWS} of {len(shown)}; narrow the filters." if len(shown) > MAX_ROWS else ""
        st.caption("Select a row to open the call." + more)
        event = st.dataframe(
            _table(listed),
            key=TABLE_KEY,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            column_config={
                "call id": st.column_config.TextColumn(pinned=True),
                "started": ui.time_column("started"),
                "duration": st.column_config.TextColumn(width="small"),
                "language": st.column_config.TextColumn(width="small"),
                "channels": st.column_config.NumberColumn(width="small"),
                "auto-failed": st.column_config.CheckboxColumn(width="small"),
                "failed items": st.column_config.NumberColumn(width="small"),
                "reviewed": st.column_config.CheckboxColumn(
                    width="small", help="A reviewer changed an item; the score includes the review"),
                "status": st.column_config.TextColumn(width="small"),
                "score %": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f %%"),
                "problem": st.column_config.TextColumn(width="large", help="Why the call failed or auto-failed"),
            },
        )
        rows = event.selection.rows if event is not None else []
        if rows:
            call_id = str(listed.iloc[rows[0]]["call_id"])
            st.switch_page("views/call.py", query_params={"call_id": call_id})
    failed = shown[shown["status"] == "failed"]
    for row in failed.head(MAX_FAILURE_BANNERS).itertuples():
        st.error(
            f"**{md_escape(row.call_id)}** failed at *{row.error_stage or 'unknown stage'}*: {md_escape(row.error)}",
            icon=":material/error:",
        )
    if len(failed) > MAX_FAILURE_BANNERS:
        st.caption(f"… and {len(failed) - MAX_FAILURE_BANNERS} more failed calls (see the table).")
    log = ui.failures(db)
    if not log.empty:
        with st.expander(f"Failed attempts log ({len(log)} most recent)"):
            st.dataframe(log, hide_index=True, column_config={"failed_at": ui.time_column("failed at")})


ui.run_page(render)
