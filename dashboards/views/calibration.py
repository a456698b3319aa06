"""Calibration: how far reviewers and the AI agree, item by item, and which rubric items need tuning.

- AI vs reviewer: per item, the calls where a reviewer decided it, agreement, Cohen's kappa and the
  direction of the overrides (passes turned into fails = the AI is too lenient, and the other way),
  ranked by how much each item needs tuning (`qa.review.calibration.agreement`).
- Calibration sessions: a team lead picks calls and reviewers; each scores them blind (their own
  outcomes only); after closing, reviewer vs reviewer kappa per pair and the items they split on.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import review_reads, ui
from dashboards.fmt import when
from qa.reviews import OUTCOMES


def _kappa(k: float | None) -> str:
    return "–" if k is None else f"{k:.2f}"


def _agreement(db: str) -> None:
    cols = st.columns([2, 3])
    period = cols[0].date_input("Period (empty: all reviewed calls)", value=(), key="cal_period", format="YYYY-MM-DD")
    since, until = (period[0], period[1]) if isinstance(period, tuple) and len(period) == 2 else (None, None)
    report = review_reads.calibration(db, since, until)
    m = st.columns(3)
    m[0].metric("Calls reviewed", report.calls)
    m[1].metric("Item decisions compared", report.pairs)
    m[2].metric("Overall kappa (AI vs reviewers)", _kappa(report.overall_kappa))
    if not report.items:
        st.info("No reviewed items in this period yet.")
        return
    st.markdown("**Items that most need tuning**")
    for it in report.ranking[:5]:
        st.markdown(f"- **{it.item_title}** — {it.advice} (kappa {_kappa(it.kappa)}, {it.pairs} calls)")
    st.dataframe(pd.DataFrame({
        "item": [i.item_title for i in report.items],
        "calls": [i.pairs for i in report.items],
        "agree %": [round(100 * i.agree / i.pairs, 1) if i.pairs else None for i in report.items],
        "kappa": pd.to_numeric(pd.Series([i.kappa for i in report.items], dtype="object"), errors="coerce"),
        "pass → fail": [i.pass_to_fail for i in report.items],
        "fail → pass": [i.fail_to_pass for i in report.items],
        "other": [i.other_changes for i in report.items],
        "advice": [i.advice for i in report.items],
    }), hide_index=True, column_config={
        "kappa": st.column_config.NumberColumn(format="%.2f", help="Cohen's kappa, AI vs the reviewer"),
        "advice": st.column_config.TextColumn(width="large")})


def _create_session(db: str) -> None:
    with st.expander("New calibration session", icon=":material/add:"):
        with st.form("cal_new", border=False):
            name = st.text_input("Name", placeholder="e.g. January billing calls")
            calls = st.multiselect("Calls", ui.calls(db)["call_id"].astype(str).head(500).tolist())
            reviewers = st.text_input("Reviewers (identities, comma-separated)")
            if st.form_submit_button("Create"):
                try:
                    review_reads.sessions(db).create(ui.viewer(), name, calls,
                                                     [r.strip() for r in reviewers.split(",") if r.strip()])
                    st.success("Session created.")
                except Exception as exc:
                    st.error(f"Not created: {exc}")


def _score_session(db: str, session) -> None:
    """A member scores the session's calls blind: only their own outcomes are shown."""
    sessions = review_reads.sessions(db)
    mine = sessions.mine(ui.viewer(), session.session_id)
    call_id = st.selectbox("Call", session.call_ids, key=f"cal_call_{session.session_id}")
    items = ui.item_results(db, call_id, *_latest(db, call_id)) if call_id else pd.DataFrame()
    if items.empty:
        st.info("This call has no scored items.")
        return
    with st.form(f"cal_score_{session.session_id}_{call_id}", border=False):
        picks = {}
        for r in items.itertuples():
            current = mine.get((call_id, r.item_id))
            picks[r.item_id] = st.radio(r.title, OUTCOMES, horizontal=True, key=f"cal_{session.session_id}_{call_id}_{r.item_id}",
                                        index=OUTCOMES.index(current) if current in OUTCOMES else None)
        if st.form_submit_button("Save my scores"):
            try:
                for item_id, outcome in picks.items():
                    if outcome:
                        sessions.score(ui.viewer(), session.session_id, call_id, item_id, outcome)
                st.success("Saved.")
            except Exception as exc:
                st.error(f"Not saved: {exc}")


def _latest(db: str, call_id: str) -> tuple[str, str]:
    scores = ui.scores(db, call_id)
    return (str(scores.iloc[0]["rubric_id"]), str(scores.iloc[0]["rubric_version"])) if not scores.empty else ("", "")


def _sessions(db: str) -> None:
    who = ui.viewer()
    sessions = review_reads.sessions(db)
    if who.role in ("team_lead", "admin"):
        _create_session(db)
    found = sessions.list(who)
    if not found:
        st.info("No calibration sessions yet.")
        return
    for s in found:
        state = "closed " + when(s.closed_at) if s.closed_at else "open"
        with st.expander(f"{s.name} · {len(s.call_ids)} calls · {len(s.reviewers)} reviewers · {state}"):
            if s.closed_at:
                rep = sessions.report(who, s.session_id)
                st.dataframe(pd.DataFrame(rep.pairwise, columns=["reviewer", "reviewer ", "kappa", "items both scored"]),
                             hide_index=True)
            else:
                if who.identity in s.reviewers:
                    _score_session(db, s)
                if who.role in ("team_lead", "admin") and st.button("Close the session", key=f"close_{s.session_id}"):
                    sessions.close(who, s.session_id)
                    st.rerun()


def render() -> None:
    db = review_reads.page_start("Calibration", "Calibration needs", "Calibration is for reviewers, team leads and admins.")
    if db is None:
        return
    tab1, tab2 = st.tabs(["AI vs reviewers", "Reviewer sessions"])
    with tab1:
        _agreement(db)
    with tab2:
        _sessions(db)


ui.run_page(render)
