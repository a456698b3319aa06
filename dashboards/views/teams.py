"""Teams page: one team's period — agents side by side (sortable), score distribution, weekly score, section
and auto-fail trends, team-wide weakest items with moments to play, profiles, talk metrics, what changed —
by queue, language and rubric (one rubric at a time), and the team report to download. A team lead
sees the teams they lead; an admin or all-call reviewer every team; agents none. The parts are
`dashboards/coaching_ui.py`'s."""

from __future__ import annotations

import streamlit as st

from dashboards import coaching_ui, ui


def render() -> None:
    st.title("Team coaching")
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return
    who = ui.viewer()
    teams = coaching_ui.teams_of_viewer(db, who) if coaching_ui.may_coach(who) else []
    if not teams:
        if who.role == "reviewer" and not who.scope.everything:
            st.info(coaching_ui.NO_COACHING, icon=":material/lock:")
        elif who.role in ("team_lead", "admin") or who.scope.everything:
            st.info("No teams yet: add agents to a team with `callqa users add ... --role agent --team TEAM` "
                    "and a lead with `--role team_lead --team TEAM`.", icon=":material/groups:")
        else:
            st.info("Team pages are for team leads, reviewers of every call and admins.", icon=":material/lock:")
        return
    left, right = st.columns([2, 2])
    team = left.selectbox("Team", teams, key="coach_subject_team")
    period = coaching_ui.pick_period(coaching_ui.coachable(db), right)
    if period is None:
        return
    view = coaching_ui.load(db, "team", team, *period, lambda subject: coaching_ui.pick_filters(db, subject, *period))
    if view is not None:
        coaching_ui.show(view, coaching_ui.TEAM_SECTIONS)


ui.run_page(render)
