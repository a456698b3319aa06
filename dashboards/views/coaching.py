"""Coaching page: one agent's or one team's period against the team, and the coaching report to download.

The figures are the coaching report's (`qa.coaching.generate.build`, through the scoped layer, reviews
applied): weekly trend, score distribution and pass rate per item as charts (the report's own matplotlib SVG, so page and
report look alike), sections, weakest items with moments linked to the call page, customer profiles,
talk metrics, reviewer comments, the previous period of the same length, and for a team its agents
side by side. The download buttons make
the same report as `callqa report` (each one audited); an agent sees only their own, a team lead
their teams'.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import kpi_panel, ui
from qa.access.coaching import all_teams, coachable_agents
from qa.access.repository import DuckDBRepository
from qa.access.directory import Directory
from qa.access.model import AccessDenied, Viewer
from qa.coaching import charts
from qa.coaching.generate import build, generate
from qa.coaching.labels import labels, number

MIME = {"html": "text/html", "pdf": "application/pdf", "csv": "text/csv"}


def _teams(db: str, who: Viewer) -> list[str]:
    if who.role == "team_lead":
        user = Directory(db).get(who.identity)
        return list(user.teams) if user else []
    return all_teams(db) if who.sees_everything else []


def _period(agents: pd.DataFrame) -> tuple[date, date]:
    """The 28 days up to the latest visible call (or today)."""
    latest = pd.to_datetime(agents["last_call"], utc=True).max() if len(agents) else None
    end = latest.date() if latest is not None and latest == latest else date.today()
    return end - timedelta(days=27), end


def _table(rows: list[dict], columns: dict[str, str], lang: str, digits: dict[str, int] | None = None) -> None:
    df = pd.DataFrame(rows)
    if df.empty:
        return
    for col, d in (digits or {}).items():
        df[col] = [number(v, lang, d) for v in df[col]]
    st.dataframe(df[list(columns)].rename(columns=columns), hide_index=True)


def _downloads(db: str, who: Viewer, kind: str, subject: str, since: date, until: date) -> None:
    cols = st.columns(3)
    for col, fmt in zip(cols, ("pdf", "html", "csv")):
        with col:
            key = f"coach_dl_{fmt}"
            data_key = f"{key}_data_{kind}_{subject}_{since}_{until}"  # a prepared file belongs to its subject/period
            if st.button(f"Prepare {fmt.upper()}", key=key + "_make", icon=":material/description:"):
                with tempfile.TemporaryDirectory() as work:
                    name = f"{kind}-{subject}_{since}_{until}.{fmt}"
                    done = generate(db, who, fmt, Path(work) / name, since=since, until=until, **{kind: subject})
                    st.session_state[data_key] = (name, done.path.read_bytes())
            if data_key in st.session_state:
                name, payload = st.session_state[data_key]
                st.download_button(f"Download {name}", payload, file_name=name, mime=MIME[fmt], key=key)


def render() -> None:
    st.title("Coaching")
    db, who = ui.db_path(), ui.viewer()
    if ui.require_calls(db) is None:
        return
    known = coachable_agents(DuckDBRepository(db, ui.rubric_dir()), who)
    agents = [str(a) for a in known["agent_id"]]
    teams = _teams(db, who)
    kinds = (["agent"] if agents else []) + (["team"] if teams else [])
    if not kinds:
        st.info("No agent's calls to coach on here.")
        return
    left, mid, right = st.columns([1, 2, 2])
    kind = left.radio("Report for", kinds, horizontal=True, key="coach_kind")
    names = dict(zip(known["agent_id"], known["agent_name"]))
    if kind == "agent":
        subject = mid.selectbox("Agent", agents, key="coach_subject_agent",
                                format_func=lambda a: f"{names.get(a) or a} ({a})")
    else:
        subject = mid.selectbox("Team", teams, key="coach_subject_team")
    start, end = _period(known)
    picked = right.date_input("Period (UTC days)", (start, end), key="coach_period")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.caption("Pick the last day of the period.")
        return
    since, until = picked
    try:
        report, _ = build(db, who, subject if kind == "agent" else None, subject if kind == "team" else None,
                          since, until)
    except AccessDenied as exc:
        st.error(f"Not yours to see: {exc}", icon=":material/lock:")
        return
    lang, words = report.language, labels(report.language)
    s = report.summary
    st.caption(f"{report.rubric_title} ({report.rubric_id}) · {since} – {until} · reviewed scores")
    if report.other_rubrics:
        st.caption(words["other_rubrics"] + " " + ", ".join(f"{k} ({v})" for k, v in report.other_rubrics.items()))
    if not s["calls"]:
        st.info(words["no_calls"])
        return
    m = st.columns(4)
    delta = None if s["team_avg"] is None or s["avg_score"] is None else f"{s['avg_score'] - s['team_avg']:+.1f} vs team"
    m[0].metric(words["avg_score"], number(s["avg_score"], lang), delta)
    rate_delta = (None if s["team_pass_rate"] is None or s["pass_rate"] is None
                  else f"{s['pass_rate'] - s['team_pass_rate']:+.1f} vs team")
    m[1].metric(words["pass_rate"], number(s["pass_rate"], lang), rate_delta)
    m[2].metric(words["calls"], s["calls"])
    m[3].metric(words["auto_failed"], s["auto_failed"])
    st.caption(f"{words['previous']} ({s['prev_since']} – {s['prev_until']}): {s['prev_calls']} · "
               f"{words['avg_score']} {number(s['prev_avg'], lang)} · {words['pass_rate']} "
               f"{number(s['prev_pass_rate'], lang)} · {words['auto_failed']} {s['prev_auto_failed']}")
    _downloads(db, who, kind, subject, since, until)
    kpi_panel.render(report)  # contact-centre KPIs (FCR, AHT, hold, satisfaction estimate), the report's figures

    c1, c2 = st.columns(2, gap="large")
    with c1:
        if svg := charts.trend_svg(report, words):
            st.image(svg, use_container_width=True)
        st.markdown(f"**{words['sections']}**")
        _table(report.sections, {"title": words["section"], "avg": words["avg_score"], "team_avg": words["team_avg"]},
               lang, {"avg": 1, "team_avg": 1})
    with c2:
        if svg := charts.items_svg(report, words):
            st.image(svg, use_container_width=True)
        if svg := charts.distribution_svg(report, report.scores, words):
            st.image(svg, use_container_width=True)
    if report.agents:
        st.markdown(f"**{words['agents']}**")
        st.dataframe(pd.DataFrame(report.agents).rename(columns={
            "agent_id": "agent id", "name": words["agent"], "calls": words["calls"], "avg": words["avg_score"],
            "pass_rate": words["pass_rate"], "auto_failed": words["auto_failed"]}), hide_index=True,
            column_config={words["avg_score"]: st.column_config.NumberColumn(format="%.1f"),
                           words["pass_rate"]: st.column_config.NumberColumn(format="%.1f")})
    st.markdown(f"**{words['weakest']}**")
    for w in report.weakest:
        team = f" · {words['team_avg']} {number(w['team_pass_rate'], lang)} %" if report.has_team else ""
        st.markdown(f"**{w['title']}**: {number(w['pass_rate'], lang)} %{team}")
        if w["coaching"]:
            st.caption(f":material/lightbulb: {w['coaching']}")
        for mo in w["moments"]:
            at = "" if mo["at_s"] is None else f" @ {int(mo['at_s']) // 60}:{int(mo['at_s']) % 60:02d}"
            quote = f" · “{mo['quote']}”" if mo["quote"] else ""
            st.page_link("views/call.py", label=f"{mo['call_id']}{at}{quote}", query_params={"call_id": mo["call_id"]},
                         icon=":material/call:")
    c3, c4 = st.columns(2, gap="large")
    with c3:
        st.markdown(f"**{words['profiles']}**")
        _table(report.profiles, {"profile": words["profile"], "calls": words["calls"], "avg": words["avg_score"],
                                 "team_avg": words["team_avg"]}, lang, {"avg": 1, "team_avg": 1})
    with c4:
        st.markdown(f"**{words['talk']}**")
        rows = [{**r, "name": words[r["name"]]} for r in report.metrics]
        _table(rows, {"name": words["metric"], "avg": report.subject_name or report.subject_id,
                      "team_avg": words["team_avg"]}, lang, {"avg": 2, "team_avg": 2})
    if report.comments:
        st.markdown(f"**{words['comments']}**")
        _table(report.comments, {"call_id": words["call"], "item": words["item"], "reviewer": words["reviewer"],
                                 "comment": words["comment"]}, lang)


ui.run_page(render)
