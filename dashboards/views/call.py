"""Call page: metadata, how the conversation went (metrics, holds, interruptions, sentiment, customer
profile), score and auto-fail banner, scorecard with evidence, transcript, audio player.

The call comes from `?call_id=...` (set by the Calls page) or the picker in the sidebar.
Play buttons next to utterances and evidence re-render the sidebar player from that second.
Each item has a "Review" form for admins, team leads and reviewers: the outcome is saved beside
the automatic one (`qa.reviews`), signed with the signed-in user's name (never a typed one), the
latest review wins in the score shown, and the history stays listed. Agents read their own calls
only. A call outside the viewer's scope reads as "no such call", whatever `?call_id=` says.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import conversation_ui, data, ui
from qa.access.model import AccessDenied
from qa.reviews import OUTCOMES, ReviewError
from qa.store import StoreBusy
from dashboards.fmt import (
    LOW_ROLE_CONFIDENCE, OUTCOME_ICONS, ROLE_AVATARS, ROLE_COLOURS, band_label, flag, is_missing, md_escape, mmss,
    outcome_label, pct, role_label, score_text, text_or_empty, when,
)

BAND_COLOURS = {"exceeds": "green", "meets": "blue", "needs_coaching": "orange"}
TRANSCRIPT_TABLE_KEY = "transcript_table"
HANDLED_KEY = "transcript_table_handled"


def _pick_call(db: str) -> str | None:
    """The call in the URL, or the one chosen in the picker (which then goes into the URL)."""
    wanted = st.query_params.get("call_id")
    ids = ui.calls(db)["call_id"].astype(str).tolist()
    if wanted and wanted not in ids:
        ids = [wanted, *ids]
    choice = st.sidebar.selectbox(
        "Open call", ids, index=ids.index(wanted) if wanted in ids else None, placeholder="Choose a call …"
    )
    if choice and choice != wanted:
        st.query_params["call_id"] = choice
    return choice


def _fact(col: Any, label: str, value: Any) -> None:
    col.markdown(f"**{label}**  \n{md_escape(str(value)) if not is_missing(value) and value != '' else '–'}")


def _header(row: dict[str, Any]) -> None:
    cols = st.columns(5)
    lang = row.get("language") or "–"
    if row.get("language_probability") is not None:
        lang = f"{lang} (p={row['language_probability']:.2f})"
    _fact(cols[0], "Agent", data.agent_display(row.get("agent_id"), row.get("agent_name")))
    _fact(cols[1], "Started", when(row.get("started_at")))
    _fact(cols[2], "Direction", row.get("direction"))
    _fact(cols[3], "Queue", row.get("queue"))
    _fact(cols[4], "Language", lang)
    cols = st.columns(5)
    _fact(cols[0], "Duration", mmss(row.get("duration_s")))
    _fact(cols[1], "Channels", f"{row.get('channels') or '–'} · {row.get('codec') or '?'}")
    _fact(cols[2], "Diarization", row.get("diarization_method"))
    confidence = row.get("role_confidence")
    _fact(cols[3], "Roles", f"{row.get('role_method') or '–'} ({'–' if confidence is None else f'{confidence:.2f}'})")
    _fact(cols[4], "Processed", when(row.get("processed_at")))
    if confidence is not None and confidence < LOW_ROLE_CONFIDENCE:
        st.warning(
            f"**Roles uncertain** — role confidence {confidence:.2f} < {LOW_ROLE_CONFIDENCE}: agent and customer "
            "labels (and the items scored on them) may be swapped. Check the transcript against the audio.",
            icon=":material/warning:",
        )


def _quality(row: dict[str, Any], stats: dict[str, Any]) -> None:
    """Why a stored call has no score (qa.quality: no speech, agent channel silent, scoring failed) and
    the recording's audio-quality flags (clipping, low level, low SNR)."""
    if row.get("status") == "unscored":
        st.warning(f"**Not scored** — {md_escape(str(row.get('error') or 'no reason recorded'))}. "
                   "The call is kept out of every average.", icon=":material/block:")
    flags = (stats.get("audio_quality") or {}).get("flags") or []
    if flags:
        st.warning(f"**Audio quality**: {md_escape(', '.join(flags))} — the transcript may be degraded.",
                   icon=":material/graphic_eq:")


def _score(call_id: str, db: str) -> pd.Series | None:
    """The score block; returns the chosen score row (latest by default) or None."""
    scores = ui.scores(db, call_id)
    if scores.empty:
        st.info("This call has no score (no rubric matched its language).")
        return None
    chosen = scores.iloc[0]
    if len(scores) > 1:
        labels = [f"{r.rubric_id} v{r.rubric_version} · scored {when(r.scored_at)}" for r in scores.itertuples()]
        pick = st.selectbox("Scored with", range(len(scores)), format_func=lambda i: labels[i])
        chosen = scores.iloc[pick]
    reviewed = ui.reviewed_score(db, call_id, str(chosen["rubric_id"]), str(chosen["rubric_version"]))
    if reviewed is not None:  # reviewers' outcomes win; the automatic score stays visible
        chosen = chosen.copy()
        auto_pct = chosen["score_pct"]
        chosen["score_pct"], chosen["band"] = reviewed.score_pct, reviewed.band
        chosen["auto_failed"] = reviewed.auto_failed
        chosen["reason"], chosen["sections"] = reviewed.reason, reviewed.sections
    cols = st.columns([1, 4])
    cols[0].metric("Score", pct(chosen["score_pct"]))
    if reviewed is not None:
        cols[0].caption(f"after review · automatic {pct(auto_pct)}")
    band = chosen["band"]
    with cols[1]:
        if not is_missing(band):
            st.badge(band_label(band), color=BAND_COLOURS.get(str(band), "gray"))
        st.caption(f"Rubric {chosen['rubric_id']} v{chosen['rubric_version']}")
        sections = chosen["sections"] or {}
        if sections:
            titles = ui.section_titles(str(chosen["rubric_id"]))
            st.caption(" · ".join(f"{md_escape(titles.get(k, k))}: {pct(v, 0)}" for k, v in sections.items()))
    if flag(chosen["auto_failed"]):
        st.error(f"**AUTO-FAIL** — {md_escape(chosen['reason']) or 'a critical item failed'}", icon=":material/gpp_bad:")
    return chosen


def _save_review(db: str, call_id: str, score: pd.Series, item_id: str, key: str) -> None:
    """Form callback: store the review; a busy or invalid save becomes a message, never a traceback."""
    state = st.session_state
    try:
        data.save_review(db, ui.viewer(), call_id, str(score["rubric_id"]), str(score["rubric_version"]), item_id,
                         state[f"{key}_outcome"], state[f"{key}_comment"])
    except (ReviewError, StoreBusy, AccessDenied) as exc:
        state[f"{key}_result"] = ("error", str(exc))
        return
    state[f"{key}_result"] = ("ok", f"Saved: {state[f'{key}_outcome']} (signed {ui.viewer().name})")
    ui.forget_cached_reads()


def _review_form(db: str, call_id: str, score: pd.Series, r: Any) -> None:
    key = f"review_{r.item_id}"
    with st.expander("Review this item", icon=":material/rate_review:"):
        with st.form(key, border=False):
            current = r.outcome if r.outcome in OUTCOMES else "pass"
            st.radio("Outcome", OUTCOMES, index=OUTCOMES.index(current), key=f"{key}_outcome", horizontal=True,
                     format_func=outcome_label)
            st.caption(f"Signed as {md_escape(ui.viewer().name)}")
            st.text_input("Comment (optional)", key=f"{key}_comment")
            st.form_submit_button("Save review", on_click=_save_review, args=(db, call_id, score, r.item_id, key))
        result = st.session_state.pop(f"{key}_result", None)
        if result and result[0] == "error":
            st.error(f"Review not saved: {result[1]}")
        elif result:
            st.success(result[1])


def _item(call_id: str, r: Any, db: str | None = None, score: pd.Series | None = None) -> None:
    with st.container(border=True):
        head = f"{OUTCOME_ICONS.get(r.outcome, '•')} **{md_escape(r.title)}** · {score_text(r.score, r.max_score)}"
        if flag(r.critical):
            head += " · :red-badge[critical]"
        if r.source == "reviewer":
            reviewer = text_or_empty(r.reviewer)
            head += f" · :violet-badge[reviewed{' by ' + md_escape(reviewer) if reviewer else ''}]"
        st.markdown(head)
        st.caption(outcome_label(r.outcome))
        if text_or_empty(r.evidence_text):
            st.markdown(f"> “{md_escape(r.evidence_text)}”")
            similarity = "" if is_missing(r.similarity) else f" · match {float(r.similarity):.0f}%"
            st.caption(f"{role_label(r.evidence_speaker)} at {mmss(r.evidence_start_s)}{similarity}")
            if not is_missing(r.evidence_start_s):
                ui.play_button(call_id, float(r.evidence_start_s), key=f"ev_{r.item_id}")
        if r.outcome == "fail":
            st.markdown(f"**Why:** {md_escape(r.reason)}")
            if r.coaching:
                st.info(f"**Coaching:** {md_escape(r.coaching)}", icon=":material/lightbulb:")
        elif text_or_empty(r.reason):
            st.caption(md_escape(r.reason))
        if r.source == "reviewer" and text_or_empty(getattr(r, "auto_outcome", "")) not in ("", r.outcome):
            st.caption(f"Automatic result: {outcome_label(r.auto_outcome)}")
        if db is not None and score is not None and ui.viewer().can_review:
            _review_form(db, call_id, score, r)


def _scorecard(call_id: str, db: str, score: pd.Series) -> None:
    items = ui.item_results(db, call_id, str(score["rubric_id"]), str(score["rubric_version"]))
    if items.empty:
        st.info("No item results stored for this scoring.")
        return
    sections = score["sections"] or {}
    for section_id, group in items.groupby("section_id", sort=False):
        section_pct = sections.get(section_id)
        st.markdown(f"#### {md_escape(group.iloc[0]['section_title'])} · {pct(section_pct, 0)}")
        for r in group.itertuples():
            _item(call_id, r, db, score)
    history = ui.review_history(db, call_id)
    if not history.empty:
        with st.expander(f"Review history ({len(history)})", icon=":material/history:"):
            st.dataframe(history, hide_index=True, column_config={"created_at": ui.time_column("when")})


def _transcript(call_id: str, db: str) -> None:
    utts = ui.utterances(db, call_id)
    if utts.empty:
        st.info("No speech was transcribed in this call.")
        return
    moods = conversation_ui.utterance_sentiment(db, call_id)
    counts = utts["speaker_role"].value_counts()
    st.caption(" · ".join(f"{role_label(k)}: {v}" for k, v in counts.items()) + " utterances")
    if st.toggle("Compact table", key="transcript_as_table", help="Select a row to play from it"):
        starts = [float(s) for s in utts["start_s"]]
        table = pd.DataFrame({
            "time": [mmss(s) for s in utts["start_s"]],
            "role": [role_label(r) for r in utts["speaker_role"]],
            "text": utts["text"],
        })
        event = st.dataframe(
            table, hide_index=True, key=TRANSCRIPT_TABLE_KEY, on_select="rerun", selection_mode="single-row",
            column_config={"text": st.column_config.TextColumn(width="large")},
        )
        # Seek only when the selection changed, so a later "play" button is not overridden.
        picked = (call_id, tuple(event.selection.rows))
        if event.selection.rows and st.session_state.get(HANDLED_KEY) != picked:
            ui.seek_to(call_id, starts[event.selection.rows[0]])
        st.session_state[HANDLED_KEY] = picked
        return
    for u in utts.itertuples():
        role = u.speaker_role if u.speaker_role in ROLE_AVATARS else "unknown"
        with st.chat_message(role, avatar=ROLE_AVATARS[role]):
            speaker = text_or_empty(u.speaker)
            label = role_label(role) + (f" ({speaker})" if role == "unknown" and speaker else "")
            st.markdown(
                f":{ROLE_COLOURS[role]}[**{md_escape(label)}**] · {mmss(u.start_s)}–{mmss(u.end_s)}"
                + (" · :gray-badge[role unknown]" if role == "unknown" else "")
                + (" · " + conversation_ui.SENTIMENT_BADGES.get(moods[u.idx][0], "") if u.idx in moods else "")
            )
            st.markdown(md_escape(u.text))
            ui.play_button(call_id, float(u.start_s), key=f"utt_{u.idx}")


def _failed(call_id: str, db: str, row: dict[str, Any]) -> None:
    st.error(
        f"**Processing failed** at stage *{row.get('error_stage') or 'unknown'}*: {md_escape(row.get('error'))}",
        icon=":material/warning:",
    )
    file = f"**File:** `{row.get('source_path')}` · " if ui.viewer().is_admin else ""
    st.markdown(f"{file}**last attempt:** {when(row.get('processed_at'))}")
    log = ui.failures(db, call_id)
    if not log.empty:
        st.markdown("**Attempts**")
        st.dataframe(log, hide_index=True, column_config={"failed_at": ui.time_column("failed at")})


def render() -> None:
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return
    st.page_link("views/calls.py", label="All calls", icon=":material/arrow_back:")
    call_id = _pick_call(db)
    if not call_id:
        st.info("Choose a call in the sidebar, or select one on the Calls page.")
        return
    detail = ui.call_detail(db, call_id)
    if detail is None:  # missing or not the viewer's: the same answer, so ids cannot be probed
        st.warning(f"No call with id `{call_id}` that you may see.")
        return
    ui.audit_open(db, call_id)
    row = detail.row
    st.title(f"Call {call_id}")
    if row.get("status") == "failed":
        _failed(call_id, db, row)
        return
    with st.sidebar:
        st.subheader("Recording")
        player = st.container()  # filled last, after every "play from" source had its say
    _header(row)
    _quality(row, detail.stats)
    conversation_ui.call_panel(call_id, db)
    score = _score(call_id, db)
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("Scorecard")
        if score is not None:
            with st.container(height=720, border=False):
                _scorecard(call_id, db, score)
    with right:
        st.subheader("Transcript")
        with st.container(height=720, border=False):
            _transcript(call_id, db)
    with player:
        ui.audio_player(call_id, row.get("source_path"))


ui.run_page(render)
