"""What the rubric engine knows about a call besides its utterances, built in one place.

The pipeline (right after analysis) and `callqa rescore` (from stored rows) both turn a
call's metrics, timed events (holds, interruptions) and sentiment summary into a
`CallContext`, so a stored call re-scored with a new rubric version sees exactly what a
freshly processed call would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.kpi.wait import METRIC as WAIT_METRIC, unannounced_wait_max_s
from qa.rubric.engine import CallContext, call_variables


@dataclass
class CallEvent:
    """A timed moment of a call worth showing and scoring: a hold, an interruption."""

    kind: str  # hold | interruption
    start_s: float
    end_s: float
    details: dict[str, Any] = field(default_factory=dict)


# the metric whose evidence is the first event of a kind (shown as "where" in a failed item)
_EVIDENCE = {
    "interruptions_by_agent": ("interruption", "by", "agent"),
    "interruptions_by_customer": ("interruption", "by", "customer"),
    "hold_count": ("hold", None, None),
    "hold_total_s": ("hold", None, None),
}


def rubric_context(
    *,
    duration_s: float,
    language: str,
    direction: str | None,
    queue: str | None,
    agent_name: str | None,
    metrics: dict[str, float | None],
    events: list[CallEvent],
    sentiment: dict[str, Any] | None,
    embedding_model: str,
) -> CallContext:
    facts: dict[str, Any] = dict(metrics)
    holds = [(e.start_s, e.end_s) for e in events if e.kind == "hold"]
    facts["had_hold"] = bool(holds)
    if WAIT_METRIC not in facts:  # stored calls analysed before the metric existed get it here too
        facts[WAIT_METRIC] = unannounced_wait_max_s(
            metrics, [(e.start_s, e.end_s, bool(e.details.get("announced"))) for e in events if e.kind == "hold"])
    evidence: dict[str, tuple[float, float]] = {}
    for metric, (kind, key, value) in _EVIDENCE.items():
        first = next((e for e in events if e.kind == kind and (key is None or e.details.get(key) == value)), None)
        if first is not None:
            evidence[metric] = (first.start_s, first.end_s)
    return CallContext(
        duration_s, language, direction, queue, facts, call_variables(agent_name),
        events={"hold": holds} if holds else {}, sentiment=sentiment, evidence_times=evidence,
        embedding_model=embedding_model,
    )
