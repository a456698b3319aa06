"""Re-score stored calls with a rubric (a new version, or another rubric) without re-transcribing.

Everything the engine needs is in the store: utterances with roles and sentiment, the
conversation metrics, timed events (holds, interruptions), the call-level sentiment and
the call's metadata. Scores are written under the rubric's id + version; scores under
other versions and reviewers' rows stay untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from qa.callfacts import CallEvent, rubric_context
from qa.config import Settings
from qa.rubric.engine import score_call
from qa.rubric.schema import Rubric, RubricError
from qa.store import Store
from qa.transcript import Utterance


@dataclass
class RescoreOutcome:
    call_id: str
    rubric: str | None  # "id@version"
    status: str  # ok | skipped | failed
    score_pct: float | None = None
    band: str | None = None
    auto_failed: bool = False
    reason: str = ""


def stored_call(store: Store, call_id: str, embedding_model: str):
    """(utterances, CallContext, language) rebuilt from the store, or None when the call is not stored ok."""
    rows = store.query(
        "SELECT duration_s, language, direction, queue, agent_name, sentiment_json FROM calls"
        " WHERE call_id = ? AND status = 'ok'", [call_id],
    )
    if not rows:
        return None
    duration, language, direction, queue, agent_name, sentiment_json = rows[0]
    utterances = [
        Utterance(idx, speaker, role, start, end, text or "", conf or 0.0, sentiment_label=label,
                  sentiment_score=score, sentiment_polarity=polarity)
        for idx, speaker, role, start, end, text, conf, label, score, polarity in store.query(
            "SELECT idx, speaker, speaker_role, start_s, end_s, text, confidence, sentiment_label, sentiment_score,"
            " sentiment_polarity FROM utterances WHERE call_id = ? ORDER BY idx", [call_id],
        )
    ]
    metrics = dict(store.query("SELECT name, value FROM call_metrics WHERE call_id = ?", [call_id]))
    events = [
        CallEvent(kind, start, end, json.loads(details or "{}"))
        for kind, start, end, details in store.query(
            "SELECT kind, start_s, end_s, details_json FROM call_events WHERE call_id = ? ORDER BY idx", [call_id]
        )
    ]
    ctx = rubric_context(
        duration_s=duration or 0.0, language=language or "", direction=direction, queue=queue,
        agent_name=agent_name, metrics=metrics, events=events,
        sentiment=json.loads(sentiment_json) if sentiment_json else None, embedding_model=embedding_model,
    )
    return utterances, ctx, language


def rescore(
    store: Store,
    settings: Settings,
    rubric: Rubric | None = None,
    call_ids: list[str] | None = None,
    pick: Callable[[Settings, str], Rubric | None] | None = None,
) -> list[RescoreOutcome]:
    """Score stored calls with `rubric` (calls in its language only) or each call's default rubric."""
    store.init()  # a store written by an older callqa gains the columns rescoring reads
    if call_ids is None:
        call_ids = [r[0] for r in store.query("SELECT call_id FROM calls WHERE status = 'ok' ORDER BY call_id")]
    if pick is None:
        from qa.pipeline import pick_rubric as pick
    out: list[RescoreOutcome] = []
    cache: dict[str, Rubric | None] = {}
    for call_id in call_ids:
        loaded = stored_call(store, call_id, settings.embedding_model)
        if loaded is None:
            out.append(RescoreOutcome(call_id, None, "skipped", reason="not stored, or its processing failed"))
            continue
        utterances, ctx, language = loaded
        use = rubric
        if use is None:
            try:
                if language not in cache:
                    cache[language] = pick(settings, language)
                use = cache[language]
            except RubricError as exc:
                out.append(RescoreOutcome(call_id, None, "failed", reason=str(exc)))
                continue
            if use is None:
                out.append(RescoreOutcome(call_id, None, "skipped", reason=f"no rubric for language {language!r}"))
                continue
        elif use.language != language:
            out.append(RescoreOutcome(call_id, f"{use.id}@{use.version}", "skipped",
                                      reason=f"call is in {language!r}, rubric is for {use.language!r}"))
            continue
        items, score = score_call(use, utterances, ctx)
        store.save_scores(call_id, items, score)
        out.append(RescoreOutcome(call_id, f"{use.id}@{use.version}", "ok", score.score_pct, score.band,
                                  score.auto_failed, score.reason))
    return out
