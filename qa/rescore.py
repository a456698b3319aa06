"""Re-score stored calls with a rubric (a new version, or another rubric) without re-transcribing.

Everything the engine needs is in the store: utterances with roles and sentiment, the
conversation metrics, timed events (holds, interruptions), the call-level sentiment and
the call's metadata. Scores are written under the rubric's id + version; scores under
other versions and reviewers' rows stay untouched.

The fast path (`rescore`, `score_stored`) works in batches of calls: one read-only
connection per batch reads the rows scoring needs with set-based queries, every phrase
match the batch can ask for is computed at once (`PhraseMatcher`), every sentence piece a
semantic check may need is embedded once, and each batch's scores are written in one
transaction. `rescore_per_call` is the original call-by-call path, kept as the reference
the fast path must equal (tests compare them).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator

from qa.access import day_totals
from qa.callfacts import CallEvent, rubric_context
from qa.config import Settings
from qa.rubric.checks import Requests, collect_requests
from qa.quality import bounded_score
from qa.rubric.engine import CallContext, CallScore, ItemResult, score_call
from qa.rubric.matching import REFERENCE, PhraseMatcher
from qa.rubric.schema import Rubric, RubricError
from qa.store import Store
from qa.transcript import Utterance

BATCH = 1000  # calls read, scored and written together


@dataclass
class RescoreOutcome:
    call_id: str
    rubric: str | None  # "id@version"
    status: str  # ok | skipped | failed
    score_pct: float | None = None
    band: str | None = None
    auto_failed: bool = False
    reason: str = ""


@dataclass
class StoredCall:
    """What scoring needs of one stored call."""

    call_id: str
    agent_id: str | None
    language: str | None
    utterances: list[Utterance]
    ctx: CallContext


@dataclass
class Scored:
    """One call scored with one rubric (or why it was not)."""

    outcome: RescoreOutcome
    agent_id: str | None = None
    items: list[ItemResult] | None = None
    score: CallScore | None = None


# ---- which calls --------------------------------------------------------------------------

def select_calls(
    store: Store, since: datetime | str | None = None, until: datetime | str | None = None,
    agents: list[str] | None = None,
) -> list[str]:
    """Ids of the calls stored ok, filtered by start time ([since, until)) and agent id, in id order."""
    where, params = ["status = 'ok'"], []
    if since is not None:
        where.append("started_at >= CAST(? AS TIMESTAMPTZ)")
        params.append(str(since))
    if until is not None:
        where.append("started_at < CAST(? AS TIMESTAMPTZ)")
        params.append(str(until))
    if agents:
        where.append("list_contains(?, agent_id)")
        params.append(list(agents))
    return [r[0] for r in store.query(f"SELECT call_id FROM calls WHERE {' AND '.join(where)} ORDER BY call_id", params)]


# ---- reading ------------------------------------------------------------------------------

def load_calls(store: Store, call_ids: list[str], embedding_model: str) -> dict[str, StoredCall]:
    """The calls among `call_ids` stored ok, read with four set-based queries on one connection."""
    if not call_ids or not store.path.exists():
        return {}
    with store.connect(read_only=True) as con:
        con.execute("CREATE OR REPLACE TEMP TABLE wanted AS SELECT unnest(?::VARCHAR[]) AS call_id", [call_ids])
        calls = con.execute(
            "SELECT c.call_id, c.agent_id, c.duration_s, c.language, c.direction, c.queue, c.agent_name,"
            " c.sentiment_json FROM calls c JOIN wanted w USING (call_id) WHERE c.status = 'ok'").fetchall()
        utts = con.execute(
            "SELECT u.call_id, idx, speaker, speaker_role, start_s, end_s, text, confidence, sentiment_label,"
            " sentiment_score, sentiment_polarity FROM utterances u JOIN wanted w USING (call_id)"
            " ORDER BY u.call_id, idx").fetchall()
        metrics = con.execute(
            "SELECT m.call_id, name, value FROM call_metrics m JOIN wanted w USING (call_id)").fetchall()
        events = con.execute(
            "SELECT e.call_id, kind, start_s, end_s, details_json FROM call_events e JOIN wanted w USING (call_id)"
            " ORDER BY e.call_id, idx").fetchall()
    by_utt: dict[str, list[Utterance]] = {}
    for cid, idx, speaker, role, start, end, text, conf, label, score, polarity in utts:
        by_utt.setdefault(cid, []).append(
            Utterance(idx, speaker, role, start, end, text or "", conf or 0.0, sentiment_label=label,
                      sentiment_score=score, sentiment_polarity=polarity))
    by_metric: dict[str, dict[str, float]] = {}
    for cid, name, value in metrics:
        by_metric.setdefault(cid, {})[name] = value
    by_event: dict[str, list[CallEvent]] = {}
    for cid, kind, start, end, details in events:
        by_event.setdefault(cid, []).append(CallEvent(kind, start, end, json.loads(details or "{}")))
    out: dict[str, StoredCall] = {}
    for cid, agent_id, duration, language, direction, queue, agent_name, sentiment_json in calls:
        ctx = rubric_context(
            duration_s=duration or 0.0, language=language or "", direction=direction, queue=queue,
            agent_name=agent_name, metrics=by_metric.get(cid, {}), events=by_event.get(cid, []),
            sentiment=json.loads(sentiment_json) if sentiment_json else None, embedding_model=embedding_model,
        )
        out[cid] = StoredCall(cid, agent_id, language, by_utt.get(cid, []), ctx)
    return out


def stored_call(store: Store, call_id: str, embedding_model: str):
    """(utterances, CallContext, language) of one call, or None when it is not stored ok (call by call)."""
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


# ---- choosing the rubric --------------------------------------------------------------------

class RubricChoice:
    """The rubric for a call: the given one (calls in its language only), or the call language's default."""

    def __init__(self, settings: Settings, rubric: Rubric | None,
                 pick: Callable[[Settings, str], Rubric | None] | None = None) -> None:
        if pick is None:
            from qa.pipeline import pick_rubric as pick
        self.settings, self.rubric, self.pick = settings, rubric, pick
        self._cache: dict[str, Rubric | RubricError | None] = {}

    def __call__(self, call_id: str, language: str | None) -> Rubric | RescoreOutcome:
        use = self.rubric
        if use is None:
            if language not in self._cache:
                try:
                    self._cache[language] = self.pick(self.settings, language)
                except RubricError as exc:
                    self._cache[language] = exc
            use = self._cache[language]
            if isinstance(use, RubricError):
                return RescoreOutcome(call_id, None, "failed", reason=str(use))
            if use is None:
                return RescoreOutcome(call_id, None, "skipped", reason=f"no rubric for language {language!r}")
        elif use.language != language:
            return RescoreOutcome(call_id, f"{use.id}@{use.version}", "skipped",
                                  reason=f"call is in {language!r}, rubric is for {use.language!r}")
        return use


def _not_stored(call_id: str) -> RescoreOutcome:
    return RescoreOutcome(call_id, None, "skipped", reason="not stored, or its processing failed")


def _ok(call_id: str, rubric: Rubric, score: CallScore) -> RescoreOutcome:
    return RescoreOutcome(call_id, f"{rubric.id}@{rubric.version}", "ok", score.score_pct, score.band,
                          score.auto_failed, score.reason)


# ---- scoring --------------------------------------------------------------------------------

def _prepare(jobs: list[tuple[StoredCall, Rubric]], matcher: PhraseMatcher, embedding_model: str):
    """Compute ahead every phrase similarity and sentence embedding the jobs may ask for."""
    by_language: dict[str, Requests] = {}
    for call, rubric in jobs:
        req = by_language.setdefault(rubric.language, Requests())
        for _, item in rubric.items():
            collect_requests(item.check, rubric, call.utterances, call.ctx, req)
    encoder = None
    for language, req in by_language.items():
        for floor, blocks in req.blocks.items():
            matcher.prepare(blocks, language, floor)
        if req.pieces:
            if encoder is None:
                from qa.embeddings import CachedEncoder, get_embedder

                pieces = list(dict.fromkeys(p for r in by_language.values() for p in r.pieces))
                encoder = CachedEncoder(get_embedder(embedding_model), max_items=len(pieces) + 1000)
                encoder.encode(pieces)  # each piece once, in one call
    return encoder


def _score_jobs(jobs: list[tuple[StoredCall, Rubric]], embedding_model: str) -> list[tuple[list[ItemResult], CallScore]]:
    matcher = PhraseMatcher()
    encoder = _prepare(jobs, matcher, embedding_model)
    out = []
    for call, rubric in jobs:
        call.ctx.matcher, call.ctx.embedder = matcher, encoder
        # bounded like the pipeline's scoring (qa.quality): a pathological pattern fails this call only
        items, score, why = bounded_score(lambda: score_call(rubric, call.utterances, call.ctx))
        out.append((items, score) if why is None else ([], why))
        call.ctx.matcher = call.ctx.embedder = None
    return out


def _chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def default_workers(n_calls: int) -> int:
    """Processes for scoring: one per core (at most 2) when there is enough work to share."""
    return min(2, os.cpu_count() or 1) if n_calls >= 2 * BATCH else 1


def score_stored(
    store: Store,
    settings: Settings,
    choices: list[RubricChoice],
    call_ids: list[str],
    batch_size: int = BATCH,
    workers: int | None = None,
) -> Iterator[tuple[list[str], list[list[Scored]]]]:
    """Score the calls with each rubric choice, batch by batch: yields (batch ids, per choice its Scored list).

    Reading happens here (one read-only connection per batch); scoring runs in this process or,
    with `workers` > 1, in a pool of processes while the next batch is read.
    """
    workers = default_workers(len(call_ids)) if workers is None else workers
    pool = ProcessPoolExecutor(workers) if workers > 1 else None

    def plan(ids: list[str]):
        loaded = load_calls(store, ids, settings.embedding_model)
        per_choice: list[list[Scored | tuple[StoredCall, Rubric]]] = []
        for choice in choices:
            row: list = []
            for cid in ids:
                call = loaded.get(cid)
                if call is None:
                    row.append(Scored(_not_stored(cid)))
                    continue
                use = choice(cid, call.language)
                row.append(Scored(use, call.agent_id) if isinstance(use, RescoreOutcome) else (call, use))
            per_choice.append(row)
        jobs = [j for row in per_choice for j in row if isinstance(j, tuple)]
        return per_choice, jobs

    def finish(ids, per_choice, results):
        it = iter(results)
        out = []
        for row in per_choice:
            done = []
            for j in row:
                if isinstance(j, Scored):
                    done.append(j)
                    continue
                call, rubric = j
                items, score = next(it)
                if isinstance(score, str):  # scoring failed or ran past its bound: nothing stored for it
                    done.append(Scored(RescoreOutcome(call.call_id, f"{rubric.id}@{rubric.version}", "failed",
                                                      reason=score), call.agent_id))
                    continue
                done.append(Scored(_ok(call.call_id, rubric, score), call.agent_id, items, score))
            out.append(done)
        return ids, out

    try:
        if pool is None:
            for ids in _chunks(call_ids, batch_size):
                per_choice, jobs = plan(ids)
                yield finish(ids, per_choice, _score_jobs(jobs, settings.embedding_model))
            return
        pending = []
        for ids in _chunks(call_ids, batch_size):
            per_choice, jobs = plan(ids)
            # split a batch's jobs across the workers
            size = max(1, -(-len(jobs) // workers))
            futures = [pool.submit(_score_jobs, part, settings.embedding_model) for part in _chunks(jobs, size)]
            pending.append((ids, per_choice, futures))
            while len(pending) > 1:
                p_ids, p_choice, p_futures = pending.pop(0)
                yield finish(p_ids, p_choice, [r for f in p_futures for r in f.result()])
        for p_ids, p_choice, p_futures in pending:
            yield finish(p_ids, p_choice, [r for f in p_futures for r in f.result()])
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def rescore(
    store: Store,
    settings: Settings,
    rubric: Rubric | None = None,
    call_ids: list[str] | None = None,
    pick: Callable[[Settings, str], Rubric | None] | None = None,
    batch_size: int = BATCH,
    workers: int | None = None,
) -> list[RescoreOutcome]:
    """Score stored calls with `rubric` (calls in its language only) or each call's default rubric; store the scores."""
    store.init()  # a store written by an older callqa gains the columns rescoring reads
    if call_ids is None:
        call_ids = select_calls(store)
    out: list[RescoreOutcome] = []
    choice = RubricChoice(settings, rubric, pick)
    for _, (row,) in score_stored(store, settings, [choice], call_ids, batch_size, workers):
        store.save_scores_many([(s.outcome.call_id, s.items, s.score) for s in row if s.score is not None])
        out.extend(s.outcome for s in row)
    if any(o.status == "ok" for o in out):
        day_totals.after_write(store.path, settings.display_timezone)  # new scorings: the coaching pages' day counts
    return out


def rescore_per_call(
    store: Store,
    settings: Settings,
    rubric: Rubric | None = None,
    call_ids: list[str] | None = None,
    pick: Callable[[Settings, str], Rubric | None] | None = None,
) -> list[RescoreOutcome]:
    """The original path, call by call (several connections and one write per call, one phrase pair at a
    time): the reference `rescore` must equal, and the baseline it is measured against."""
    store.init()
    if call_ids is None:
        call_ids = [r[0] for r in store.query("SELECT call_id FROM calls WHERE status = 'ok' ORDER BY call_id")]
    choice = RubricChoice(settings, rubric, pick)
    out: list[RescoreOutcome] = []
    for call_id in call_ids:
        loaded = stored_call(store, call_id, settings.embedding_model)
        if loaded is None:
            out.append(_not_stored(call_id))
            continue
        utterances, ctx, language = loaded
        use = choice(call_id, language)
        if isinstance(use, RescoreOutcome):
            out.append(use)
            continue
        ctx.matcher = REFERENCE
        items, score = score_call(use, utterances, ctx)
        store.save_scores(call_id, items, score)
        out.append(_ok(call_id, use, score))
    return out
