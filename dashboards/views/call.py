"""Call page, built for scoring: the score, band and any auto-fail (with the item and why) at the top;
the scorecard and the transcript side by side; the recording plays from any line or piece of evidence.

- The call comes from `?call_id=` (the Calls list and the queue carry their filters along in the URL,
  so "back to the list" and previous / next call follow the list the reviewer came from).
- Words follow the rubric's language (`dashboards/call_words.py`): Turkish rubrics get a Turkish page.
- Playing is the browser's business (`dashboards/player.py`): no script run per click.
- The scorecard, the review form, sign-off, disputes and history are one `st.fragment`: saving a review
  re-runs that part only; the transcript and player stay as they are.
- Reads are cached per viewer and per store version (`dashboards/ui.py`).
- Engineering fields (codec, diarization, role method, stored reasons) sit in a details expander.
A call outside the viewer's scope reads as "no such call", whatever `?call_id=` says.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import call_review, conversation_ui, data, review_reads, scorecard_html, ui
from dashboards.call_words import band_text, item_window, outcome_text, plain_reason, words
from dashboards.fmt import LOW_ROLE_CONFIDENCE, flag, is_missing, md_escape, mmss, score_text, text_or_empty, when
from dashboards.list_filters import ListFilters, carried
from dashboards.player import player
from dashboards.rubric_info import rubric_info

SCORE_PICK_KEY = "callqa_score_pick"
TRANSCRIPT_HEIGHT = 470
LIST_PAGE = 50  # the Calls list's page size: previous / next walk the page the reviewer came from


def _go(call_id: str) -> None:
    """Button callback: open another call, keeping the list's filters in the URL."""
    params = carried(st.query_params.to_dict())
    st.query_params.from_dict({**params, "call_id": call_id})
    st.session_state.pop(SCORE_PICK_KEY, None)


def _neighbours(db: str, call_id: str) -> tuple[str | None, str | None, str]:
    """(previous, next, "3 / 12 · in your queue") from the viewer's queue, else from the filtered list."""
    who = ui.viewer()
    if who.can_review and review_reads.available():
        try:
            n = review_reads.neighbours(db, call_id)
        except Exception:  # not in the queue, or the queue is not set up: fall back to the list
            n = None
        if n is not None and n.position:
            return n.previous, n.next, f"{n.position} / {n.total}"
    filters = ListFilters.from_params(st.query_params.to_dict())
    size = LIST_PAGE
    page = review_reads.find_calls(db, filters, size + 2, max(0, (filters.page - 1) * size - 1))
    ids = page.rows["call_id"].astype(str).tolist() if not page.rows.empty else []
    if call_id not in ids:
        return None, None, ""
    i = ids.index(call_id)
    position = max(0, (filters.page - 1) * size - 1) + i + 1
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None), f"{position} / {page.total}"


def _nav(db: str, call_id: str, W: dict[str, str]) -> None:
    prev_id, next_id, where = _neighbours(db, call_id)
    back = carried(st.query_params.to_dict())
    cols = st.columns([2, 2, 2, 3], vertical_alignment="center")
    cols[0].page_link("views/calls.py", label=W["back"], icon=":material/arrow_back:", query_params=back)
    cols[1].button(W["previous"], icon=":material/chevron_left:", disabled=prev_id is None, key="nav_prev",
                   on_click=_go, args=(prev_id,) if prev_id else ("",), use_container_width=True)
    cols[2].button(W["next"], icon=":material/chevron_right:", disabled=next_id is None, key="nav_next",
                   on_click=_go, args=(next_id,) if next_id else ("",), use_container_width=True)
    if where:
        cols[3].caption(where)


def _header(call_id: str, row: dict[str, Any], stats: dict[str, Any], W: dict[str, str]) -> None:
    direction = row.get("direction")
    facts = [data.agent_display(row.get("agent_id"), row.get("agent_name")), when(row.get("started_at")),
             mmss(row.get("duration_s")), W.get(str(direction), direction) if direction else None, row.get("queue")]
    st.markdown(f"### {W['call']} {md_escape(call_id)}")
    st.caption(" · ".join(md_escape(str(f)) for f in facts if f and not is_missing(f)))
    confidence = row.get("role_confidence")
    if confidence is not None and not is_missing(confidence) and confidence < LOW_ROLE_CONFIDENCE:
        st.warning(W["roles_uncertain"], icon=":material/warning:")
    if row.get("status") == "unscored":
        st.warning(f"**{W['unscored']}** — {md_escape(str(row.get('error') or ''))}. {W['unscored_note']}",
                   icon=":material/block:")
    flags = (stats.get("audio_quality") or {}).get("flags") or []
    if flags:
        st.warning(f"**{W['audio_quality']}**: {md_escape(', '.join(flags))} — {W['degraded']}",
                   icon=":material/graphic_eq:")


@st.fragment
def _conversation(db: str, call_id: str, W: dict[str, str]) -> None:
    """Metrics, sentiment, profiles, holds: read only when asked for (a toggle, re-running this part alone)."""
    if st.toggle(W["conversation"], key="callqa_show_conversation"):
        with ui.shared_reads(db):
            conversation_ui.call_panel(call_id, db, W["conversation"], expanded=True)


def _details(call_id: str, db: str, row: dict[str, Any], stats: dict[str, Any], W: dict[str, str],
             items: pd.DataFrame | None) -> None:
    """What engineers want to see; reviewers don't need it to score."""
    with st.expander(W["details"], icon=":material/tune:"):
        confidence = row.get("role_confidence")
        facts = {
            "language": f"{row.get('language') or '–'}" + (f" (p={row['language_probability']:.2f})"
                                                          if row.get("language_probability") is not None else ""),
            "channels / codec": f"{row.get('channels') or '–'} · {row.get('codec') or '?'}",
            "diarization": row.get("diarization_method"),
            "roles": f"{row.get('role_method') or '–'} ({'–' if confidence is None else f'{confidence:.2f}'})",
            "asr model": row.get("asr_model"),
            "processed": when(row.get("processed_at")),
        }
        st.markdown("  \n".join(f"**{k}**: {md_escape(str(v)) if v is not None else '–'}" for k, v in facts.items()))
        if items is not None and not items.empty:
            st.dataframe(items[["item_id", "outcome", "method", "similarity", "reason", "source"]], hide_index=True)


def _score_rows(db: str, call_id: str) -> tuple[pd.DataFrame, int]:
    scores = ui.scores(db, call_id)
    pick = int(st.session_state.get(SCORE_PICK_KEY, 0) or 0)
    return scores, (pick if 0 <= pick < len(scores) else 0)


def _cards(call_id: str, items: pd.DataFrame, info: Any, lang: str, W: dict[str, str], duration: float | None,
           sections: dict[str, float]) -> None:
    """The scorecard: one HTML block per section (items with plain reasons, evidence and window buttons)."""
    bands = info.bands if info else scorecard_html.DEFAULT_BANDS
    for section_id, group in items.groupby("section_id", sort=False):
        pct_value = sections.get(section_id)
        parts = [scorecard_html.section_head_html(str(group.iloc[0]["section_title"]), pct_value,
                                                  scorecard_html.band_for(pct_value, bands))]
        for r in group.itertuples():
            item = info.items.get(r.item_id) if info else None
            check = item.check if item else None
            evidence = None if is_missing(r.evidence_start_s) else float(r.evidence_start_s)
            window = item_window(check, duration) if r.outcome == "fail" and evidence is None else None
            reviewer = text_or_empty(r.reviewer) if r.source == "reviewer" else ""
            parts.append(scorecard_html.card_html(scorecard_html.Card(
                item_id=str(r.item_id), title=str(r.title), outcome=str(r.outcome),
                outcome_text=outcome_text(r.outcome, lang), points=score_text(r.score, r.max_score),
                critical=flag(r.critical), critical_label=W["critical"],
                reviewed_by=f"{W['reviewed_by']} {reviewer}" if reviewer else "",
                reason=plain_reason(check, r.outcome, evidence, r.reason, lang) if check is not None else text_or_empty(r.reason),
                quote=text_or_empty(r.evidence_text), evidence_s=evidence, evidence_label=W["evidence"],
                window=window, window_label=W["play_window"],
                coaching=text_or_empty(r.coaching) if r.outcome == "fail" else "", coaching_label=W["coaching_tip"],
            )))
        st.html("".join(parts))


@st.fragment
def _scoring(db: str, call_id: str, duration: float | None, language: str | None) -> None:
    """Score strip, scorecard, review form, sign-off, disputes, history: re-runs alone after a save."""
    with ui.shared_reads(db):
        _scoring_body(db, call_id, duration, language)


def _scoring_body(db: str, call_id: str, duration: float | None, language: str | None) -> None:
    scores, pick = _score_rows(db, call_id)
    if scores.empty:
        st.info(words(language)["no_score"])
        return
    chosen = scores.iloc[pick]
    rubric_id, version = str(chosen["rubric_id"]), str(chosen["rubric_version"])
    info = rubric_info(rubric_id, ui.rubric_dir())
    lang = info.language if info else language
    W = words(lang)
    reviewed = ui.reviewed_score(db, call_id, rubric_id, version)
    auto_pct, auto_failed_by_ai = chosen["score_pct"], flag(chosen["auto_failed"])
    score_pct, band, auto_failed = chosen["score_pct"], chosen["band"], auto_failed_by_ai
    sections = chosen["sections"] or {}
    if reviewed is not None:
        score_pct, band, auto_failed, sections = reviewed.score_pct, reviewed.band, reviewed.auto_failed, reviewed.sections
    items = ui.item_results(db, call_id, rubric_id, version)
    bands = info.bands if info else scorecard_html.DEFAULT_BANDS
    failed_critical = items[(items["outcome"] == "fail") & items["critical"].fillna(False).astype(bool)] \
        if not items.empty else items
    banner = ""
    if auto_failed:
        banner = scorecard_html.auto_fail_html(W["auto_fail"], W["auto_fail_because"], [
            (str(r.title), plain_reason(info.items[r.item_id].check if info and r.item_id in info.items else None,
                                        "fail", None if is_missing(r.evidence_start_s) else r.evidence_start_s,
                                        r.reason, lang) if info and r.item_id in info.items else text_or_empty(r.reason))
            for r in failed_critical.itertuples()])
    lifted = ""
    if auto_failed_by_ai and not auto_failed:
        note = review_reads.auto_fail_note(db, call_id) if review_reads.available() else None
        lifted = scorecard_html.lifted_html(note.text if note is not None else W["lifted"])
    st.html(scorecard_html.strip_html(scorecard_html.Strip(
        score_pct=score_pct, band=band, band_text=W["auto_fail"] if auto_failed else band_text(band, lang),
        auto_failed=bool(auto_failed), score_label=W["score"], rubric_title=f"{info.title if info else rubric_id} · v{version}",
        sub=f"{W['after_review']} · {W['automatic']} {'–' if is_missing(auto_pct) else f'{float(auto_pct):.1f} %'}"
        if reviewed is not None else "",
        sections=[((info.section_title(k) if info else k), v, scorecard_html.band_for(v, bands)) for k, v in sections.items()],
        auto_fail_html=banner, lifted_html=lifted)))
    call_review.show_result()
    if items.empty:
        return
    with st.container(height=560, border=False):
        _cards(call_id, items, info, lang, W, duration, sections)
        who = ui.viewer()
        if who.can_review:
            call_review.override_form(db, call_id, chosen, items, W, lang)
            if review_reads.available():
                call_review.sign_off_form(db, call_id, W)
        elif who.role == "agent" and review_reads.available():
            call_review.dispute_form(db, call_id, items, W, lang)
        if review_reads.available():
            call_review.disputes(db, call_id, W, lang)
        call_review.timeline(db, call_id, W)
    if len(scores) > 1:
        labels = [f"{r.rubric_id} v{r.rubric_version} · {when(r.scored_at)}" for r in scores.itertuples()]
        st.selectbox(W["scored_with"], range(len(scores)), format_func=lambda i: labels[i], key=SCORE_PICK_KEY)


def _transcript(db: str, call_id: str, row: dict[str, Any], W: dict[str, str]) -> None:
    utts = ui.utterances(db, call_id)
    st.markdown(f"**{W['transcript']}**")
    if utts.empty:
        st.info(W["no_speech"])
    source = row.get("source_path")
    from pathlib import Path

    if not source or not Path(str(source)).is_file():
        st.warning("Audio file not found (moved or deleted since processing).", icon=":material/volume_off:")
    who = ui.viewer()
    original = who.can_unmask_audio and st.toggle(W["unmask"], key="callqa_unmask")
    moods = conversation_ui.utterance_sentiment(db, call_id)
    names = {"agent": W["agent"], "customer": W["customer"]}
    negative = W.get("negative_mood", "")
    lines = [{"start": float(u.start_s), "end": float(u.end_s),
              "role": u.speaker_role if u.speaker_role in names else "unknown",
              "head": f"{names.get(u.speaker_role, W['unknown'])} · {mmss(u.start_s)}–{mmss(u.end_s)}",
              "at": mmss(u.start_s), "text": str(u.text),
              "mood": negative if negative and moods.get(u.idx, ("",))[0] == "negative" else ""}
             for u in utts.itertuples()]
    try:
        start = max(0.0, float(st.query_params.get("t", 0)))
    except ValueError:
        start = 0.0
    player(call_id, ui.audio_url(call_id, bool(original)), lines,
           note=W["original_note"] if original else W["recording_note"], follow_label=W["follow"],
           play_label=W["play"], start_s=start, height=TRANSCRIPT_HEIGHT)


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


def _pick_call(db: str) -> str | None:
    """The call in the URL, or one chosen in the sidebar picker (which then goes into the URL)."""
    wanted = st.query_params.get("call_id")
    if wanted:
        return wanted
    ids = ui.calls(db)["call_id"].astype(str).head(1000).tolist()
    choice = st.sidebar.selectbox("Open call", ids, index=None, placeholder="Choose a call …")
    if choice:
        st.query_params["call_id"] = choice
    return choice


def _start_review(db: str, call_id: str) -> None:
    """A reviewer opening a call of their queue moves it from "to review" to "in review" (once a session)."""
    started = st.session_state.setdefault("callqa_started_calls", set())
    if call_id in started or not ui.viewer().can_review or not review_reads.available():
        return
    started.add(call_id)
    try:
        review_reads.desk(db).start(ui.viewer(), call_id)
    except Exception:  # not queued, or the queue busy: opening the call matters more
        pass


def render() -> None:
    db = ui.db_path()
    if ui.require_calls(db) is None:
        return
    call_id = _pick_call(db)
    if not call_id:
        st.info("Choose a call in the sidebar, or select one on the Calls page or in the review queue.")
        return
    detail = ui.call_detail(db, call_id)
    if detail is None:  # missing or not the viewer's: the same answer, so ids cannot be probed
        st.warning(f"No call with id `{call_id}` that you may see.")
        return
    ui.audit_open(db, call_id)
    _start_review(db, call_id)
    row = detail.row
    if row.get("status") == "failed":
        st.title(f"Call {call_id}")
        _failed(call_id, db, row)
        return
    scores, pick = _score_rows(db, call_id)
    info = rubric_info(str(scores.iloc[pick]["rubric_id"]), ui.rubric_dir()) if not scores.empty else None
    language = info.language if info else row.get("language")
    W = words(language)
    _nav(db, call_id, W)
    _header(call_id, row, detail.stats, W)
    left, right = st.columns([1, 1], gap="medium")
    with left:
        _scoring(db, call_id, row.get("duration_s"), language)
    with right:
        _transcript(db, call_id, row, W)
    _conversation(db, call_id, W)
    items = ui.item_results(db, call_id, str(scores.iloc[pick]["rubric_id"]),
                            str(scores.iloc[pick]["rubric_version"])) if not scores.empty else None
    _details(call_id, db, row, detail.stats, W, items)


ui.run_page(render)
