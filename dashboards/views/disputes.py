"""Disputes: an agent's disputes of their own calls' items, and a team lead's open disputes to decide.

An agent raises a dispute on the call page (an item and a comment); the team lead of the agent's team
(or an admin) accepts or rejects it here or on the call page, with a comment; an accepted dispute
changes the item's outcome and so the score everywhere. Everything is kept (`qa.review.disputes`).
"""

from __future__ import annotations

import streamlit as st

from dashboards import call_review, review_reads, ui
from dashboards.call_words import words

STATUSES = {"open": "Open", "accepted": "Accepted", "rejected": "Rejected", "all": "All"}


def render() -> None:
    db = review_reads.page_start("Disputes", "Disputes need")
    if db is None:
        return
    who = ui.viewer()
    status = review_reads.status_choice(STATUSES, "dp_status", "open")
    st.caption({"agent": "Your disputes. Raise one from a call's page: pick the item and say why.",
                "team_lead": "Disputes on your teams' calls: accept or reject each with a sentence."}.get(
        who.role, "Disputes on the calls you may see."))
    call_review.show_result()
    shown = call_review.disputes(db, None, words("en"), "en", None if status == "all" else status)
    if not shown:
        st.info("No disputes here.")


ui.run_page(render)
