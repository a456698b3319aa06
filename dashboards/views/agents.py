"""Agents page: one agent's period against their team — weekly score and section trends, pass rate per item,
the three weakest items with moments to play, customer profiles, talk metrics, what changed since the
previous period, reviewer comments — and the coaching report to download. An agent sees only
themselves, a team lead their teams' agents, an admin or all-call reviewer every agent
(`qa.access.coaching.resolve_subject`). The parts are `dashboards/coaching_ui.py`'s."""

from __future__ import annotations

import streamlit as st

from dashboards import coaching_ui, ui


def render() -> None:
    st.title("Agent coaching")
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return
    if not coaching_ui.may_coach(ui.viewer()):
        st.info(coaching_ui.NO_COACHING, icon=":material/lock:")
        return
    known = coaching_ui.coachable(db)
    if known.empty:
        st.info("No processed calls of an agent you may coach (calls need an agent id: sidecar metadata or a "
                "filename pattern).")
        return
    names = dict(zip(known["agent_id"], known["agent_name"]))
    left, right = st.columns([2, 2])
    agent = left.selectbox("Agent", list(names), key="coach_subject_agent",
                           format_func=lambda a: f"{names.get(a) or a} ({a})")
    period = coaching_ui.pick_period(known, right)
    if period is None:
        return
    view = coaching_ui.load(db, "agent", agent, *period,
                            lambda subject: coaching_ui.pick_filters(db, subject, *period))
    if view is not None:
        coaching_ui.show(view, coaching_ui.AGENT_SECTIONS)


ui.run_page(render)
