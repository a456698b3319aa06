"""Agents page: per-agent averages, item pass rates, the most-failed items, and how each agent does
with each kind of customer (profile) with the recommended handling (the coaching view)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import conversation_ui, ui
from dashboards.fmt import band_label, flag, md_escape, mmss, pct

ALL = "__all__"
TOP_FAILED = 3


def _summary_table(agents: pd.DataFrame) -> None:
    st.dataframe(
        agents.drop(columns=["agent_key"]).rename(columns={
            "agent": "agent", "calls": "calls", "scored": "scored", "avg_score": "average score %",
            "auto_failed": "auto-failed", "needs_coaching": "needs coaching", "last_call": "last call",
        }),
        hide_index=True,
        column_config={
            "average score %": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.1f %%"),
            "last call": ui.time_column("last call"),
        },
    )


def _most_failed(rates: pd.DataFrame) -> None:
    worst = rates[rates["failed"] > 0].head(TOP_FAILED)
    if worst.empty:
        st.success("No failed items — nothing to coach on here yet.", icon=":material/celebration:")
        return
    st.markdown("**Most-failed items**")
    for r in worst.itertuples():
        critical = " · :red-badge[critical]" if flag(r.critical) else ""
        st.markdown(
            f":red[:material/cancel:] **{md_escape(r.title)}** ({md_escape(r.section_title)}) — failed {r.failed} of {r.applicable} "
            f"· pass rate {pct(r.pass_rate, 0)}{critical}"
        )
        if r.coaching:
            st.caption(f":material/lightbulb: {md_escape(r.coaching)}")


def _rates_table(rates: pd.DataFrame) -> None:
    st.dataframe(
        rates[["section_title", "title", "critical", "applicable", "passed", "failed", "na", "pass_rate"]].rename(
            columns={"section_title": "section", "title": "item", "na": "n/a", "pass_rate": "pass rate %"}
        ),
        hide_index=True,
        column_config={
            "pass rate %": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%.0f %%", width="small"),
            "critical": st.column_config.CheckboxColumn(width="small"),
            **{c: st.column_config.NumberColumn(width="small") for c in ("applicable", "passed", "failed", "n/a")},
        },
    )


def _agent_calls(db: str, agent_key: str) -> None:
    calls = ui.calls(db)
    mine = calls[(calls["agent_key"] == agent_key) & (calls["status"] == "ok")]
    if mine.empty:
        return
    st.markdown("**Calls**")
    for r in mine.head(20).itertuples():
        auto = " · AUTO-FAIL" if flag(r.auto_failed) else ""
        st.page_link(
            "views/call.py",
            label=f"{r.call_id} · {mmss(r.duration_s)} · {pct(r.score_pct)} · {band_label(r.band)}{auto}",
            query_params={"call_id": str(r.call_id)},
            icon=":material/call:",
        )
    if len(mine) > 20:
        st.caption(f"… and {len(mine) - 20} more on the Calls page (filter by agent).")


def render() -> None:
    st.title("Agents")
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return
    agents = ui.agents(db)
    if agents.empty:
        st.info("No processed calls carry an agent id or name yet (add sidecar metadata or a filename pattern).")
    else:
        st.caption("Averages over each agent's processed calls (latest scoring per call).")
        _summary_table(agents)
    names = dict(zip(agents["agent_key"], agents["agent"]))
    choice = st.selectbox(
        "Coaching view for", [ALL, *names], format_func=lambda k: "All agents" if k == ALL else names.get(k, k),
        key="coach_agent",
    )
    agent_key = None if choice == ALL else choice
    rates = ui.item_rates(db, agent_key)
    if rates.empty:
        st.info("No scored items yet.")
        return
    left, right = st.columns([2, 3], gap="large")
    with left:
        _most_failed(rates)
        conversation_ui.profile_coaching(db, agent_key, names.get(agent_key, "All agents") if agent_key else "All agents")
        if agent_key:
            _agent_calls(db, agent_key)
    with right:
        st.markdown("**Pass rate per item** (n/a excluded)")
        _rates_table(rates)


ui.run_page(render)
