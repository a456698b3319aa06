"""Review queue: the signed-in reviewer's calls to review, why each is there, and its status.

Filled by the sampling rules a team lead or admin sets (N random calls per agent per week, plus every
auto-fail, roles uncertain, customer sentiment falling, an item decided near its threshold); see
`qa.review.sampling`. Opening a call carries `?from=queue`, so the call page's previous / next follow
this queue. Team leads and admins also see everyone's entries, fill the queue and edit the rules.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import review_reads, ui
from dashboards.fmt import band_label

STATUSES = {"open": "To review + in review", "to_review": "To review", "in_review": "In review", "done": "Done",
            "all": "All"}
STATUS_TEXT = {"to_review": "to review", "in_review": "in review", "done": "done"}
TABLE_KEY = "queue_table"


def _entries(db: str, status: str, everyone: bool) -> list:
    wanted = None if status in ("all", "open") else status
    entries = review_reads.queue(db, wanted, everyone)
    if status == "open":
        entries = [e for e in entries if e.status != "done"]
    return entries


def _table(entries: list) -> pd.DataFrame:
    return pd.DataFrame({
        "#": range(1, len(entries) + 1),
        "call": [e.call_id for e in entries],
        "why in the queue": ["; ".join(e.reasons) for e in entries],
        "status": [STATUS_TEXT.get(e.status, e.status) for e in entries],
        "agent": [e.agent or "–" for e in entries],
        "started": pd.to_datetime([e.started_at for e in entries], utc=True, errors="coerce"),
        "score": [None if e.score_pct is None else round(float(e.score_pct), 1) for e in entries],
        "band": ["auto-fail" if e.auto_failed else band_label(e.band) for e in entries],
        "reviewer": [e.assignee or "–" for e in entries],
    })


def _fill(db: str) -> None:
    try:
        result = review_reads.desk(db).fill(ui.viewer())
    except Exception as exc:  # AccessDenied, QueueError, StoreBusy: said, not raised
        st.session_state["queue_msg"] = ("error", f"Queue not filled: {exc}")
        return
    st.session_state["queue_msg"] = ("ok", f"Queue filled: {result.added} added, {result.updated} updated, "
                                           f"{result.unchanged} unchanged.")


def _rules(db: str) -> None:
    """Team lead / admin: the sampling rules."""
    desk = review_reads.desk(db)
    rules = desk.rules(ui.viewer())
    with st.expander("Sampling rules", icon=":material/rule:"):
        with st.form("rules_form", border=False):
            per_week = st.number_input("Random calls per agent per week", 0, 50, int(rules.per_agent_week))
            auto_fail = st.checkbox("Every auto-failed call", bool(rules.auto_fail))
            roles = st.number_input("Roles uncertain below (confidence, 0 = off)", 0.0, 1.0,
                                    float(rules.roles_uncertain_below or 0.0), step=0.05)
            falling = st.checkbox("Customer sentiment falling", bool(rules.sentiment_falling))
            near = st.checkbox("An item decided near its threshold", bool(rules.near_threshold))
            if st.form_submit_button("Save rules"):
                try:
                    desk.set_rules(ui.viewer(), rules.model_copy(update={
                        "per_agent_week": int(per_week), "auto_fail": auto_fail,
                        "roles_uncertain_below": float(roles) or None, "sentiment_falling": falling,
                        "near_threshold": near}))
                    st.success("Rules saved. Fill the queue to apply them.")
                except Exception as exc:
                    st.error(f"Rules not saved: {exc}")


def render() -> None:
    db = review_reads.page_start("Review queue", "The review queue needs",
                                 "Only reviewers, team leads and admins have a review queue.")
    if db is None:
        return
    who = ui.viewer()
    lead = who.role in ("team_lead", "admin")
    status = review_reads.status_choice(STATUSES, "queue_status", "open")
    cols = st.columns([2, 2, 3], vertical_alignment="center")
    everyone = lead and cols[0].toggle("Everyone's queue", key="queue_everyone",
                                       value=st.query_params.get("everyone") == "1")
    if lead:
        cols[1].button("Fill the queue now", icon=":material/playlist_add:", on_click=_fill, args=(db,))
    msg = st.session_state.pop("queue_msg", None)
    if msg:
        (st.error if msg[0] == "error" else st.success)(msg[1])
    entries = _entries(db, status, bool(everyone))
    todo = [e for e in entries if e.status != "done"]
    st.caption(f"{len(entries)} calls listed · {len(todo)} still to finish")
    if todo:
        first = todo[0].call_id
        st.page_link("views/call.py", label=f"Start with the next call: {first}", icon=":material/play_circle:",
                     query_params={"call_id": first, "from": "queue"})
    if not entries:
        st.info("Nothing in this queue. " + ("Fill it with the sampling rules." if lead else
                                             "A team lead fills it with the sampling rules."))
    else:
        event = st.dataframe(
            _table(entries), key=TABLE_KEY, hide_index=True, on_select="rerun", selection_mode="single-row",
            column_config={
                "#": st.column_config.NumberColumn(width=40),
                "call": st.column_config.TextColumn(pinned=True),
                "why in the queue": st.column_config.TextColumn(width="large"),
                "started": ui.time_column("started"),
                "score": st.column_config.NumberColumn("score %", format="%.1f"),
            },
        )
        rows = event.selection.rows if event is not None else []
        if rows:
            st.switch_page("views/call.py", query_params={"call_id": entries[rows[0]].call_id, "from": "queue"})
    if lead:
        _rules(db)


ui.run_page(render)
