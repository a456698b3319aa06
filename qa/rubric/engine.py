"""Score a call's utterances against a rubric: item outcomes with evidence, section and call scores.

Arithmetic: an item that passes earns its weight, a failed one 0, an N/A one leaves the
denominator. A section's percentage is its earned/possible weight; the call's is the
section-weighted mean of applicable sections. A failed `critical` item zeroes the call
(`auto_failed`, with the reason recorded) or, with `critical: section`, its section.
Every result carries its evidence or, for a failure, the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.rubric.checks import Outcome, evaluate
from qa.rubric.schema import Item, Rubric, Section


@dataclass
class CallContext:
    """What the engine may know about a call besides its utterances."""

    duration_s: float
    language: str
    direction: str | None = None
    queue: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # metrics and flags usable in checks and applies_when
    variables: dict[str, list[str]] = field(default_factory=dict)  # e.g. agent_first_name for phrases
    events: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # e.g. {"hold": [(77.8, 87.8)]}
    sentiment: dict[str, Any] | None = None  # call-level summary (customer_trajectory, ...)
    evidence_times: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> a moment showing it
    embedding_model: str = "bundled:e5-small"
    matcher: Any = None  # a PhraseMatcher shared by a batch of calls (None: the thread's own)
    embedder: Any = None  # an encoder shared by a batch of calls (None: the process's cached one)

    def value(self, key: str) -> Any:
        if key in ("direction", "queue", "language"):
            return getattr(self, key)
        return self.facts.get(key)

    def encoder(self):
        """The (cached) sentence encoder for semantic checks; loaded on first use."""
        return self.embedder if self.embedder is not None else _encoder(self.embedding_model)


_ENCODERS: dict[str, Any] = {}


def _encoder(spec: str):
    if spec not in _ENCODERS:
        from qa.embeddings import CachedEncoder, get_embedder

        _ENCODERS[spec] = CachedEncoder(get_embedder(spec))
    return _ENCODERS[spec]


@dataclass
class ItemResult:
    section_id: str
    item_id: str
    outcome: str  # pass | fail | na
    score: float
    max_score: float
    critical: bool
    method: str
    reason: str
    evidence_text: str | None = None
    evidence_speaker: str | None = None
    evidence_start_s: float | None = None
    evidence_end_s: float | None = None
    similarity: float | None = None
    source: str = "auto"


@dataclass
class CallScore:
    rubric_id: str
    rubric_version: str
    score_pct: float | None
    auto_failed: bool
    band: str | None
    reason: str
    sections: dict[str, float | None]


def _condition_holds(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):  # {min: 1} / {max: 0.5}: a numeric fact within bounds
        try:
            value = float(actual)
        except (TypeError, ValueError):
            return False
        lo, hi = wanted.get("min"), wanted.get("max")
        return (lo is None or value >= lo) and (hi is None or value <= hi)
    allowed = wanted if isinstance(wanted, list) else [wanted]
    return actual in allowed


def _applies(item: Item, ctx: CallContext) -> tuple[bool, str]:
    for key, wanted in (item.applies_when or {}).items():
        actual = ctx.value(key)
        if actual is None:
            continue  # unknown: assume the item applies
        if not _condition_holds(actual, wanted):
            return False, f"not applicable: {key} is {actual!r}, item applies when {key} is {wanted}"
    return True, ""


def item_result(section: Section, item: Item, out: Outcome) -> ItemResult:
    """An engine outcome as a stored item result (score from the item's weight)."""
    score = item.weight if out.status == "pass" else 0.0
    res = ItemResult(
        section.id, item.id, out.status, score, item.weight if out.status != "na" else 0.0,
        item.critical_scope is not None, out.method, out.reason, similarity=out.similarity,
    )
    if out.utterance is not None:
        u = out.utterance
        res.evidence_text, res.evidence_speaker = u.text, u.role
        res.evidence_start_s, res.evidence_end_s = u.start, u.end
    elif out.at is not None:
        res.evidence_start_s, res.evidence_end_s = out.at
    return res


def call_variables(agent_name: str | None) -> dict[str, list[str]]:
    """Phrase variables a call's metadata provides (`{agent_name}`, `{agent_first_name}`)."""
    if not agent_name or not agent_name.strip():
        return {}
    name = agent_name.strip()
    return {"agent_name": [name], "agent_first_name": [name.split()[0]]}


def score_call(rubric: Rubric, utterances, ctx: CallContext) -> tuple[list[ItemResult], CallScore]:
    results: list[ItemResult] = []
    for section, item in rubric.items():
        ok, why = _applies(item, ctx)
        if not ok:
            results.append(item_result(section, item, Outcome("na", why, "applies_when")))
            continue
        results.append(item_result(section, item, evaluate(item.check, rubric, utterances, ctx)))
    return results, aggregate(rubric, results)


def aggregate(rubric: Rubric, results: list[ItemResult]) -> CallScore:
    """Section and call percentages from item results (reviewer overrides included when passed in)."""
    scope = {item.id: item.critical_scope for _, item in rubric.items()}
    sections: dict[str, float | None] = {}
    num = den = 0.0
    reasons: list[str] = []
    for section in rubric.sections:
        rs = [r for r in results if r.section_id == section.id and r.outcome != "na"]
        possible = sum(r.max_score for r in rs)
        if possible == 0:
            sections[section.id] = None
            continue
        pct = 100.0 * sum(r.score for r in rs) / possible
        zeroing = [r for r in rs if r.outcome == "fail" and scope.get(r.item_id) == "section"]
        if zeroing:
            pct = 0.0
            reasons.append(f"section {section.id} zeroed by " + ", ".join(f"{r.item_id} ({r.reason})" for r in zeroing))
        sections[section.id] = round(pct, 1)
        num += section.weight * pct
        den += section.weight
    critical = [r for r in results if r.outcome == "fail" and scope.get(r.item_id, "call" if r.critical else None) == "call"]
    if den == 0:
        return CallScore(rubric.id, rubric.version, None, False, None, "no applicable items", sections)
    pct = round(num / den, 1)
    if critical:
        reasons.insert(0, "critical item failed: " + ", ".join(f"{r.item_id} ({r.reason})" for r in critical))
        pct = 0.0
    band = next((b.name for b in sorted(rubric.bands, key=lambda b: -b.min_pct) if pct >= b.min_pct), None)
    return CallScore(rubric.id, rubric.version, pct, bool(critical), band, "; ".join(reasons), sections)
