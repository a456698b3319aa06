"""Reads for the conversation side of a call and of an agent: metrics, holds and interruptions,
sentiment, customer profiles with their handling strategy, and per-profile coaching figures.

Through the scoped data-access layer (`qa.access.repository`), like `dashboards.data`; a store
written before these tables existed gives empty results, never an error.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboards.data import repo
from qa.access.model import Viewer
from qa.access.repository import Conversation  # noqa: F401  (re-exported)

# metrics shown on the call page, in order: (name, label, unit)
SHOWN_METRICS: list[tuple[str, str, str]] = [
    ("talk_ratio_agent", "Agent talk share", "pct"),
    ("overtalk_s", "Overtalk", "s"),
    ("interruptions_by_agent", "Agent interruptions", "n"),
    ("interruptions_by_customer", "Customer interruptions", "n"),
    ("dead_air_total_s", "Dead air", "s"),
    ("dead_air_longest_s", "Longest silence", "s"),
    ("hold_count", "Holds", "n"),
    ("hold_total_s", "Time on hold", "s"),
    ("agent_wpm", "Agent words/min", "n"),
    ("customer_wpm", "Customer words/min", "n"),
    ("agent_response_latency_mean_s", "Agent response time", "s"),
    ("longest_monologue_agent_s", "Longest agent monologue", "s"),
]

def get_conversation(db: str | Path, viewer: Viewer, call_id: str) -> Conversation:
    """Everything the call page shows about how the conversation went."""
    return repo(db).conversation(viewer, call_id)


def utterance_sentiment(db: str | Path, viewer: Viewer, call_id: str) -> dict[int, tuple[str, float]]:
    """idx -> (label, polarity) for a call's utterances (empty for stores without sentiment)."""
    return repo(db).utterance_sentiment(viewer, call_id)


def profile_coaching(db: str | Path, viewer: Viewer, agent_key: str | None = None) -> pd.DataFrame:
    """Per customer profile: the agent's calls, average effective score and the item most often failed
    with such customers, beside the overall average; None = everyone the viewer sees.

    Columns: profile, calls, avg_score, overall_avg, strategy, most_failed_item, failed, applicable.
    """
    return repo(db).profile_coaching(viewer, agent_key)


def profile_label(profile: str) -> str:
    """The profile's English display name from the catalogue (`qa/profiles_data/profiles.yaml`)."""
    from qa.profiles import load_profiles

    known = load_profiles().get(profile)
    return known.name("en") if known else profile.replace("_", " ").replace("-", " ")
