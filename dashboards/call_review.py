"""The call page's reviewing part: override an item (a reason is required for critical items), sign off
(agree / disagree with the AI), a call comment, disputes (an agent raises one, the team lead decides)
and the call's history as a readable timeline.

Everything goes through the review desk (`qa.review`, via `dashboards.review_reads`): it checks the
role and scope, signs with the signed-in user (never a typed name), enforces the reason rule and
audits. Without the desk installed (an older checkout) an override is saved through the earlier
`dashboards.data.save_review` and the other parts are not shown. Messages are in the rubric's language.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import data, review_reads, ui
from dashboards.call_words import outcome_text
from dashboards.fmt import md_escape, when
from qa.access.model import AccessDenied
from qa.reviews import OUTCOMES, ReviewError
from qa.store import StoreBusy

RESULT_KEY = "callqa_review_result"
EXPECTED = (ReviewError, StoreBusy, AccessDenied, ValueError)


def _say(kind: str, text: str) -> None:
    st.session_state[RESULT_KEY] = (kind, text)


def show_result() -> None:
    """The outcome of the last save (kept across the fragment's rerun)."""
    result = st.session_state.pop(RESULT_KEY, None)
    if result and result[0] == "error":
        st.error(result[1], icon=":material/error:")
    elif result:
        st.success(result[1], icon=":material/check:")


def _override(db: str, call_id: str, score: pd.Series, W: dict[str, str], lang: str) -> None:
    state = st.session_state
    item_id, outcome = state.get("rv_item"), state.get("rv_outcome")
    reason = (state.get("rv_reason") or "").strip() or None
    if not item_id or not outcome:
        return
    try:
        if review_reads.available():
            review_reads.desk(db).override(ui.viewer(), call_id, item_id, outcome, reason,
                                           rubric_id=str(score["rubric_id"]), rubric_version=str(score["rubric_version"]))
        else:
            data.save_review(db, ui.viewer(), call_id, str(score["rubric_id"]), str(score["rubric_version"]), item_id,
                             outcome, reason)
    except EXPECTED as exc:
        _say("error", f"{W['not_saved']}: {exc}")
        return
    state["rv_reason"] = ""
    _say("ok", f"{W['saved']}: {outcome_text(outcome, lang)} ({W['signed_as']} {ui.viewer().name})")


def override_form(db: str, call_id: str, score: pd.Series, items: pd.DataFrame, W: dict[str, str], lang: str) -> None:
    """One form for every item: pick the item, the outcome, the reason; save."""
    titles = {r.item_id: f"{r.title} · {outcome_text(r.outcome, lang)}" + (f" · {W['critical']}" if r.critical else "")
              for r in items.itertuples()}
    with st.form("rv_form", border=True):
        st.markdown(f"**{W['review_item']}**")
        st.selectbox(W["item"], list(titles), key="rv_item", format_func=lambda k: titles.get(k, k))
        st.radio(W["outcome"], OUTCOMES, key="rv_outcome", horizontal=True,
                 format_func=lambda o: outcome_text(o, lang))
        st.text_input(W["reason_required"], key="rv_reason")
        st.caption(f"{W['signed_as']} {md_escape(ui.viewer().name)}")
        st.form_submit_button(W["save"], on_click=_override, args=(db, call_id, score, W, lang), type="primary")


def _sign_off(db: str, call_id: str, W: dict[str, str]) -> None:
    state = st.session_state
    try:
        review_reads.desk(db).sign_off(ui.viewer(), call_id, state["so_verdict"], (state.get("so_comment") or "").strip() or None)
    except EXPECTED as exc:
        _say("error", f"{W['not_saved']}: {exc}")
        return
    state["so_comment"] = ""
    _say("ok", f"{W['signed_off']} ({W['signed_as']} {ui.viewer().name})")


def sign_off_form(db: str, call_id: str, W: dict[str, str]) -> None:
    with st.form("so_form", border=True):
        st.markdown(f"**{W['sign_off']}**")
        st.radio(W["verdict"], ("agree", "disagree"), key="so_verdict", horizontal=True,
                 format_func=lambda v: W[f"verdict_{v}"])
        st.text_area(W["call_comment"], key="so_comment", height=68)
        st.form_submit_button(W["sign_off_button"], on_click=_sign_off, args=(db, call_id, W))


def _dispute(db: str, call_id: str, W: dict[str, str]) -> None:
    state = st.session_state
    try:
        review_reads.desk(db).dispute(ui.viewer(), call_id, state["dp_item"], (state.get("dp_comment") or "").strip())
    except EXPECTED as exc:
        _say("error", f"{W['dispute_not_sent']}: {exc}")
        return
    state["dp_comment"] = ""
    _say("ok", W["dispute_sent"])


def dispute_form(db: str, call_id: str, items: pd.DataFrame, W: dict[str, str], lang: str) -> None:
    """An agent disputes an item of their own call, with a comment."""
    titles = {r.item_id: f"{r.title} · {outcome_text(r.outcome, lang)}" for r in items.itertuples() if r.outcome != "na"}
    with st.form("dp_form", border=True):
        st.markdown(f"**{W['dispute_item']}**")
        st.selectbox(W["item"], list(titles), key="dp_item", format_func=lambda k: titles.get(k, k))
        st.text_area(W["dispute_comment"], key="dp_comment", height=68)
        st.form_submit_button(W["send_dispute"], on_click=_dispute, args=(db, call_id, W))


def _resolve(db: str, dispute_id: str, accept: bool, W: dict[str, str]) -> None:
    comment = (st.session_state.get(f"dr_{dispute_id}") or "").strip()
    try:
        review_reads.desk(db).resolve(ui.viewer(), dispute_id, accept, comment)
    except EXPECTED as exc:
        _say("error", f"{W['not_saved']}: {exc}")
        return
    _say("ok", W["dispute_accepted"] if accept else W["dispute_rejected"])


def disputes(db: str, call_id: str | None, W: dict[str, str], lang: str, status: str | None = None) -> int:
    """Disputes (of one call, or all the viewer may see); a team lead (or admin) decides the open ones."""
    found = review_reads.disputes(db, call_id, status)
    if not found:
        return 0
    if call_id:
        st.markdown(f"**{W['disputes']}**")
    who = ui.viewer()
    for d in found:
        status_text = W.get(f"dispute_{d.status}", d.status)
        if not call_id:
            st.page_link("views/call.py", label=f"{W['call']} {d.call_id}", icon=":material/call:",
                         query_params={"call_id": d.call_id})
        st.markdown(f"- **{md_escape(d.item_title)}** · {md_escape(d.raised_by)} · {when(d.created_at)} · *{status_text}*  \n"
                    f"  “{md_escape(d.comment)}”" + (f"  \n  {md_escape(d.decided_by)}: {md_escape(d.decision_comment)}"
                                                      if d.decided_by else ""))
        if d.status == "open" and who.role in ("team_lead", "admin"):
            st.text_input(W["decision_comment"], key=f"dr_{d.dispute_id}")
            cols = st.columns(2)
            cols[0].button(W["accept"], key=f"da_{d.dispute_id}", on_click=_resolve, args=(db, d.dispute_id, True, W),
                           type="primary")
            cols[1].button(W["reject"], key=f"dj_{d.dispute_id}", on_click=_resolve, args=(db, d.dispute_id, False, W))
    return len(found)


def timeline(db: str, call_id: str, W: dict[str, str]) -> None:
    """The call's history, oldest first, in sentences; read only when the reviewer asks for it."""
    if not st.toggle(W["history"], key="callqa_show_history"):
        return
    events = review_reads.timeline(db, call_id) if review_reads.available() else []
    if not events:
        history = ui.review_history(db, call_id)
        if history.empty:
            return
        events = [_legacy(r) for r in history.iloc[::-1].itertuples()]
    lines = []
    for ev in events:
        reason = f" — “{md_escape(ev.reason)}”" if getattr(ev, "reason", None) else ""
        lines.append(f"- {when(ev.when)} · **{md_escape(ev.who)}** {md_escape(ev.what)}{reason}")
    st.markdown("\n".join(lines) or "–")


def _legacy(r: Any) -> Any:
    """A row of the reviews file as a timeline event (checkouts without the review desk)."""
    from types import SimpleNamespace

    return SimpleNamespace(when=r.created_at, who=r.reviewer, what=f"set {r.item_id} to {r.outcome}",
                           reason=r.comment if isinstance(r.comment, str) and r.comment else None)
