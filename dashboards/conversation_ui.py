"""Streamlit pieces for the conversation side: the call page's "How the conversation went" panel
(metrics, sentiment trajectory, customer profiles with handling strategy, holds and
interruptions with play buttons). (Coaching by customer profile is on the Agents page: dashboards/coaching_ui.py.)
"""

from __future__ import annotations

import streamlit as st

from dashboards import conversation, ui
from dashboards.fmt import md_escape, mmss
from dashboards.player import seek_html
from qa.access.model import Viewer

SENTIMENT_BADGES = {"negative": ":red-badge[negative]", "neutral": ":gray-badge[neutral]",
                    "positive": ":green-badge[positive]"}
TRAJECTORY_TEXT = {"improved": ":green[improved]", "worsened": ":red[worsened]", "steady": ":gray[steady]"}


@st.cache_data(ttl=ui.CACHE_TTL_S, max_entries=ui.CACHE_ENTRIES, show_spinner=False)
def _conversation_for(db: str, version: tuple, who: Viewer, call_id: str) -> conversation.Conversation:
    return conversation.get_conversation(db, who, call_id)


def _conversation(db: str, call_id: str) -> conversation.Conversation:
    return _conversation_for(db, ui.store_version(db), ui.viewer(), call_id)


@st.cache_data(ttl=ui.CACHE_TTL_S, max_entries=ui.CACHE_ENTRIES, show_spinner=False)
def _sentiment_for(db: str, version: tuple, who: Viewer, call_id: str) -> dict[int, tuple[str, float]]:
    return conversation.utterance_sentiment(db, who, call_id)


def utterance_sentiment(db: str, call_id: str) -> dict[int, tuple[str, float]]:
    return _sentiment_for(db, ui.store_version(db), ui.viewer(), call_id)


def _metric_value(value: float, unit: str) -> str:
    if unit == "pct":
        return f"{100 * value:.0f} %"
    if unit == "s":
        return mmss(value) if value >= 60 else f"{value:.1f} s"
    return f"{value:.0f}"


def _sentiment_line(s: dict) -> str:
    parts = []
    if s.get("customer_start") is not None and s.get("customer_end") is not None:
        traj = TRAJECTORY_TEXT.get(s.get("customer_trajectory") or "", s.get("customer_trajectory") or "")
        parts.append(f"**Customer mood** {s['customer_start']:+.2f} → {s['customer_end']:+.2f} ({traj})")
    if s.get("agent_tone"):
        share = s.get("agent_negative_share")
        parts.append(f"**Agent tone** {s['agent_tone']}" + (f" ({100 * share:.0f} % negative sentences)" if share is not None else ""))
    return " · ".join(parts)


def call_panel(call_id: str, db: str, title: str | None = None, expanded: bool = False) -> None:
    """The "How the conversation went" panel of the call page."""
    conv = _conversation(db, call_id)
    if not conv.metrics and conv.profiles.empty and conv.sentiment is None:
        return
    with st.expander(title or "How the conversation went", expanded=expanded, icon=":material/forum:"):
        shown = [(name, label, unit) for name, label, unit in conversation.SHOWN_METRICS if name in conv.metrics]
        for row in range(0, len(shown), 6):
            cols = st.columns(6)
            for col, (name, label, unit) in zip(cols, shown[row:row + 6]):
                col.metric(label, _metric_value(conv.metrics[name], unit))
        if conv.sentiment:
            st.markdown(_sentiment_line(conv.sentiment))
        if not conv.profiles.empty:
            st.markdown("**Customer profile** — " + " ".join(
                f":blue-badge[{md_escape(conversation.profile_label(p))} {c:.0%}]"
                for p, c in zip(conv.profiles["profile"], conv.profiles["confidence"])))
            for p in conv.profiles.itertuples():
                with st.popover(f"How to handle: {conversation.profile_label(p.profile)}"):
                    st.markdown(md_escape(p.strategy))
                    if p.reasons:
                        st.caption("Why this tag: " + md_escape("; ".join(p.reasons)))
        for i, e in enumerate(conv.events.itertuples()):
            d = e.details or {}
            if e.kind == "hold":
                asked = ":green[asked first]" if d.get("asked_permission") else ":orange[not asked]"
                thanked = ":green[thanked after]" if d.get("thanked_after") else ":orange[no thanks]"
                text = f":material/pause_circle: **Hold** {mmss(e.start_s)}–{mmss(e.end_s)} · {asked} · {thanked}"
            else:
                text = (f":material/record_voice_over: **{str(d.get('by', '?')).capitalize()} cut in** on the "
                        f"{d.get('of', '?')} at {mmss(e.start_s)} ({float(d.get('overlap_s', 0)):.1f} s overlap)")
            left, right = st.columns([5, 1])
            left.markdown(text)
            with right:  # plays in the browser (dashboards/player.py), no script run
                st.html(seek_html(float(e.start_s), mmss(e.start_s)))

