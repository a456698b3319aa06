"""Rubric self-tests: the `tests:` cases a rubric file carries, run against the real engine.

A case gives utterances (role, start, end, text, optional sentiment), optional call facts
(duration, direction, queue, metrics as `facts`, `events` such as holds, `call_sentiment`),
and the expected outcome of some items:

  tests:
    - name: greeting with company name
      duration_s: 120
      utterances:
        - {role: agent, start: 0.5, end: 4, text: "Anadolu Telekom, hoş geldiniz, ben Ayşe."}
      expect: {greet_company: pass, introduce_self: pass}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.rubric.engine import CallContext, call_variables, score_call
from qa.rubric.schema import Rubric, RubricError, load_rubric
from qa.transcript import Utterance


class _CaseUtterance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(pattern="^(agent|customer|unknown)$")
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    sentiment: str | None = Field(None, pattern="^(negative|neutral|positive)$")
    polarity: float | None = Field(None, ge=-1, le=1)


_POLARITY = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}


class RubricCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    duration_s: float | None = None
    direction: str | None = None
    queue: str | None = None
    facts: dict[str, Any] = {}  # conversation metrics and flags, e.g. {interruptions_by_agent: 2}
    events: dict[str, list[tuple[float, float]]] = {}  # e.g. {hold: [[60, 75]]}
    call_sentiment: dict[str, Any] | None = None  # e.g. {customer_trajectory: improved}
    agent_name: str | None = None
    utterances: list[_CaseUtterance] = []
    expect: dict[str, str]
    expect_score_pct: float | None = None
    expect_auto_failed: bool | None = None


@dataclass
class CaseResult:
    rubric: str
    name: str
    ok: bool
    problems: list[str]


def run_case(rubric: Rubric, raw: dict[str, Any], index: int, source: str) -> CaseResult:
    try:
        case = RubricCase.model_validate(raw)
    except ValidationError as exc:
        msgs = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return CaseResult(source, f"tests[{index}]", False, [f"malformed test case: {m}" for m in msgs])
    utterances = []
    for i, u in enumerate(case.utterances):
        polarity = u.polarity if u.polarity is not None else _POLARITY.get(u.sentiment or "", None)
        utterances.append(Utterance(
            i, u.role, u.role, u.start, u.end, u.text, 1.0,
            sentiment_label=u.sentiment, sentiment_score=1.0 if u.sentiment else None, sentiment_polarity=polarity,
        ))
    duration = case.duration_s or max([u.end for u in utterances] + [1.0])
    ctx = CallContext(
        duration, rubric.language, case.direction, case.queue, dict(case.facts), call_variables(case.agent_name),
        events={k: [tuple(e) for e in v] for k, v in case.events.items()}, sentiment=case.call_sentiment,
    )
    results, score = score_call(rubric, utterances, ctx)
    by_id = {r.item_id: r for r in results}
    problems = []
    for item_id, want in case.expect.items():
        if item_id not in by_id:
            problems.append(f"expects item {item_id!r}, which the rubric does not have")
        elif by_id[item_id].outcome != want:
            r = by_id[item_id]
            problems.append(f"{item_id}: expected {want}, got {r.outcome} ({r.reason})")
    if case.expect_score_pct is not None and (score.score_pct is None or abs(score.score_pct - case.expect_score_pct) > 0.05):
        problems.append(f"score: expected {case.expect_score_pct}, got {score.score_pct}")
    if case.expect_auto_failed is not None and score.auto_failed != case.expect_auto_failed:
        problems.append(f"auto_failed: expected {case.expect_auto_failed}, got {score.auto_failed}")
    return CaseResult(source, case.name, not problems, problems)


def check_rubric_file(path: str | Path) -> tuple[Rubric | None, list[CaseResult], str | None]:
    """Validate one rubric file and run its cases: (rubric, case results, schema error)."""
    try:
        rubric = load_rubric(path)
    except RubricError as exc:
        return None, [], str(exc)
    results = [run_case(rubric, raw, i, str(path)) for i, raw in enumerate(rubric.tests)]
    return rubric, results, None


def rubric_files(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out
