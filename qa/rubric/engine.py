"""Score a call's utterances against a rubric: item outcomes with evidence, section and call scores.

Arithmetic: an item that passes earns its weight, a failed one 0, an N/A one leaves the
denominator. A section's percentage is its earned/possible weight; the call's is the
section-weighted mean of applicable sections. A failed `critical` item zeroes the call and
records why (`auto_failed`). Every result carries its evidence or, for a failure, the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa.rubric.matching import best_match
from qa.rubric.schema import Item, PhraseCheck, Rubric, Section


@dataclass
class CallContext:
    """What the engine may know about a call besides its utterances."""

    duration_s: float
    language: str
    direction: str | None = None
    queue: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # metrics and flags usable in applies_when
    variables: dict[str, list[str]] = field(default_factory=dict)  # e.g. agent_first_name for phrases

    def value(self, key: str) -> Any:
        if key in ("direction", "queue", "language"):
            return getattr(self, key)
        return self.facts.get(key)


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


def _applies(item: Item, ctx: CallContext) -> tuple[bool, str]:
    for key, wanted in (item.applies_when or {}).items():
        actual = ctx.value(key)
        if actual is None:
            continue  # unknown: assume the item applies
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if actual not in allowed:
            return False, f"not applicable: {key} is {actual!r}, item applies when {key} in {allowed}"
    return True, ""


def _in_scope(utterances, check: PhraseCheck, ctx: CallContext):
    out = []
    for u in utterances:
        if check.speaker != "any" and u.role != check.speaker:
            continue
        if check.window and check.window.first_s is not None and u.start > check.window.first_s:
            continue
        if check.window and check.window.last_s is not None and u.end < ctx.duration_s - check.window.last_s:
            continue
        out.append(u)
    return out


def _scope_text(check: PhraseCheck) -> str:
    who = "anyone" if check.speaker == "any" else f"the {check.speaker}"
    if check.window is None:
        return f"{who} (whole call)"
    if check.window.first_s is not None:
        return f"{who} in the first {check.window.first_s:g} s"
    return f"{who} in the last {check.window.last_s:g} s"


def _evidence(result: ItemResult, utterance, similarity: float) -> ItemResult:
    result.evidence_text = utterance.text
    result.evidence_speaker = utterance.role
    result.evidence_start_s = utterance.start
    result.evidence_end_s = utterance.end
    result.similarity = similarity
    return result


def run_phrase_check(rubric: Rubric, section: Section, item: Item, utterances, ctx: CallContext) -> ItemResult:
    check = item.check
    scoped = _in_scope(utterances, check, ctx)
    by_idx = {u.idx: u for u in scoped}
    lang = rubric.language
    base = dict(section_id=section.id, item_id=item.id, max_score=item.weight, critical=item.critical, method="phrases")
    # forbidden phrases fail the item whatever else was said
    if check.none:
        hit = best_match(rubric.expand(check.none, ctx.variables), scoped, lang, check.threshold, reject_negated=True)
        if hit:
            res = ItemResult(outcome="fail", score=0.0, reason=f"said a forbidden phrase ~ {hit.phrase!r}", **base)
            return _evidence(res, by_idx[hit.utterance_idx], hit.similarity)
    if check.all:
        found = []
        for phrase in rubric.expand(check.all, ctx.variables):
            hit = best_match([phrase], scoped, lang, check.threshold)
            if hit is None:
                return ItemResult(
                    outcome="fail", score=0.0, reason=f"{phrase!r} not said by {_scope_text(check)}", **base
                )
            found.append(hit)
        weakest = min(found, key=lambda h: h.similarity)
        res = ItemResult(outcome="pass", score=item.weight, reason=f"all {len(found)} phrases said", **base)
        return _evidence(res, by_idx[weakest.utterance_idx], weakest.similarity)
    if check.any:
        phrases = rubric.expand(check.any, ctx.variables)
        hit = best_match(phrases, scoped, lang, check.threshold)
        if hit is None:
            return ItemResult(
                outcome="fail", score=0.0,
                reason=f"none of {len(phrases)} expected phrases said by {_scope_text(check)}", **base,
            )
        res = ItemResult(outcome="pass", score=item.weight, reason=f"matched {hit.phrase!r}", **base)
        return _evidence(res, by_idx[hit.utterance_idx], hit.similarity)
    return ItemResult(outcome="pass", score=item.weight, reason="no forbidden phrase said", **base)


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
            results.append(ItemResult(section.id, item.id, "na", 0.0, 0.0, item.critical, "applies_when", why))
            continue
        results.append(run_phrase_check(rubric, section, item, utterances, ctx))
    return results, aggregate(rubric, results)


def aggregate(rubric: Rubric, results: list[ItemResult]) -> CallScore:
    """Section and call percentages from item results (reviewer overrides included when passed in)."""
    sections: dict[str, float | None] = {}
    num = den = 0.0
    for section in rubric.sections:
        rs = [r for r in results if r.section_id == section.id and r.outcome != "na"]
        possible = sum(r.max_score for r in rs)
        if possible == 0:
            sections[section.id] = None
            continue
        pct = 100.0 * sum(r.score for r in rs) / possible
        sections[section.id] = round(pct, 1)
        num += section.weight * pct
        den += section.weight
    critical = [r for r in results if r.critical and r.outcome == "fail"]
    if den == 0:
        return CallScore(rubric.id, rubric.version, None, False, None, "no applicable items", sections)
    pct = round(num / den, 1)
    reason = ""
    if critical:
        reason = "critical item failed: " + ", ".join(f"{r.item_id} ({r.reason})" for r in critical)
        pct = 0.0
    band = next((b.name for b in sorted(rubric.bands, key=lambda b: -b.min_pct) if pct >= b.min_pct), None)
    return CallScore(rubric.id, rubric.version, pct, bool(critical), band, reason, sections)
