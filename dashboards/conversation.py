"""Reads for the conversation side of a call and of an agent: metrics, holds and interruptions,
sentiment, customer profiles with their handling strategy, and per-profile coaching figures.

Plain functions over the store (short read-only connections, like `dashboards.data`); a
store written before these tables existed gives empty results, never an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dashboards.data import _frame

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

@dataclass
class Conversation:
    metrics: dict[str, float] = field(default_factory=dict)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    profiles: pd.DataFrame = field(default_factory=pd.DataFrame)
    sentiment: dict[str, Any] | None = None


def get_conversation(db: str | Path, call_id: str) -> Conversation:
    """Everything the call page shows about how the conversation went."""
    metrics = _frame(db, "SELECT name, value FROM call_metrics WHERE call_id = ?", [call_id], ["name", "value"])
    events = _frame(
        db, "SELECT kind, start_s, end_s, details_json FROM call_events WHERE call_id = ? ORDER BY start_s",
        [call_id], ["kind", "start_s", "end_s", "details_json"],
    )
    events["details"] = [json.loads(d) if isinstance(d, str) and d else {} for d in events["details_json"]]
    profiles = _frame(
        db, "SELECT profile, confidence, reasons_json, strategy FROM call_profiles WHERE call_id = ?"
            " ORDER BY confidence DESC", [call_id], ["profile", "confidence", "reasons_json", "strategy"],
    )
    profiles["reasons"] = [json.loads(r) if isinstance(r, str) and r else [] for r in profiles["reasons_json"]]
    raw = _frame(db, "SELECT sentiment_json FROM calls WHERE call_id = ?", [call_id], ["sentiment_json"])
    sentiment = None
    if len(raw) and isinstance(raw.iloc[0, 0], str):
        sentiment = json.loads(raw.iloc[0, 0])
    return Conversation(
        {str(n): float(v) for n, v in zip(metrics["name"], metrics["value"])},
        events.drop(columns=["details_json"]), profiles.drop(columns=["reasons_json"]), sentiment,
    )


def utterance_sentiment(db: str | Path, call_id: str) -> dict[int, tuple[str, float]]:
    """idx -> (label, polarity) for a call's utterances (empty for stores without sentiment)."""
    df = _frame(
        db, "SELECT idx, sentiment_label, sentiment_polarity FROM utterances WHERE call_id = ?"
            " AND sentiment_label IS NOT NULL", [call_id], ["idx", "sentiment_label", "sentiment_polarity"],
    )
    return {int(i): (str(lab), float(p or 0.0)) for i, lab, p in zip(df["idx"], df["sentiment_label"], df["sentiment_polarity"])}


def profile_coaching(db: str | Path, agent_key: str | None = None) -> pd.DataFrame:
    """Per customer profile: the agent's calls, average score and the item most often failed with
    such customers, beside the agent's overall average. `agent_key` as in `dashboards.data`
    (agent_id, else agent name); None = everyone.

    Columns: profile, calls, avg_score, overall_avg, most_failed_item, failed, applicable, strategy.
    """
    agent_filter = "" if agent_key is None else " AND coalesce(c.agent_id, c.agent_name) = ?"
    params = [] if agent_key is None else [agent_key]
    cols = ["profile", "calls", "avg_score", "overall_avg", "strategy"]
    base = f"""
        WITH latest AS (
            SELECT s.call_id, s.rubric_id, s.rubric_version, s.score_pct FROM call_scores s
            JOIN calls c USING (call_id)
            WHERE c.status = 'ok'{agent_filter}
            QUALIFY row_number() OVER (PARTITION BY s.call_id ORDER BY s.scored_at DESC) = 1)
        SELECT p.profile, count(*) AS calls, avg(l.score_pct) AS avg_score,
               (SELECT avg(score_pct) FROM latest) AS overall_avg, any_value(p.strategy) AS strategy
        FROM call_profiles p JOIN latest l USING (call_id)
        GROUP BY p.profile ORDER BY calls DESC, p.profile"""
    per = _frame(db, base, params, cols)
    if per.empty:
        return per.assign(most_failed_item=[], failed=[], applicable=[])
    items = _frame(db, f"""
        WITH latest AS (
            SELECT s.call_id, s.rubric_id, s.rubric_version FROM call_scores s JOIN calls c USING (call_id)
            WHERE c.status = 'ok'{agent_filter}
            QUALIFY row_number() OVER (PARTITION BY s.call_id ORDER BY s.scored_at DESC) = 1)
        SELECT p.profile, i.item_id, sum((i.outcome = 'fail')::INT) AS failed, sum((i.outcome <> 'na')::INT) AS applicable
        FROM call_profiles p JOIN latest l USING (call_id)
        JOIN item_results i ON i.call_id = l.call_id AND i.rubric_id = l.rubric_id
             AND i.rubric_version = l.rubric_version AND i.source = 'auto'
        GROUP BY p.profile, i.item_id""", params, ["profile", "item_id", "failed", "applicable"])
    worst = (items[items["failed"] > 0].sort_values(["profile", "failed", "item_id"], ascending=[True, False, True])
             .drop_duplicates("profile").set_index("profile"))
    per["most_failed_item"] = [worst["item_id"].get(p) for p in per["profile"]]
    per["failed"] = [int(worst["failed"].get(p, 0)) for p in per["profile"]]
    per["applicable"] = [int(worst["applicable"].get(p, 0)) for p in per["profile"]]
    return per


def profile_label(profile: str) -> str:
    """The profile's English display name from the catalogue (`qa/profiles_data/profiles.yaml`)."""
    from qa.profiles import load_profiles

    known = load_profiles().get(profile)
    return known.name("en") if known else profile.replace("_", " ").replace("-", " ")
