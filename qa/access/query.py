"""Filters and full-text search over the viewer's calls, as SQL with bound parameters.

`CallQuery` is what the Calls page's filters and search box hold (and what its URL carries);
`where_clause` turns it into a predicate over the `visible` call `c` and its latest scoring `l`,
every value a bound parameter (nothing typed is formatted into SQL). Sets that live in the
reviews file (reviewed, signed off, disputed, queued calls; reviewed outcomes of an item) come
in as bound lists, built by the repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from qa import text_index
from qa.access.effective import LATEST_FIRST

ROLES_UNCERTAIN_BELOW = 0.6  # calls.role_confidence under this: "who is the agent" is a guess
REVIEWED_STATES = ("reviewed", "unreviewed", "signed_off", "disputed")
QUEUE_STATES = ("to_review", "in_review", "done", "queued")
TRENDS = ("improved", "worsened", "steady")


@dataclass(frozen=True)
class CallQuery:
    """Calls-list filters; None (or empty) means "don't filter on this"."""

    text: str | None = None
    agent: str | None = None
    failed_item: str | None = None
    queue: Sequence[str] | None = None
    direction: Sequence[str] | None = None
    reviewed: str | None = None
    review_status: str | None = None
    roles_uncertain: bool | None = None
    profile: Sequence[str] | None = None
    sentiment_trend: Sequence[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    languages: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if self.reviewed is not None and self.reviewed not in REVIEWED_STATES:
            raise ValueError(f"reviewed must be one of {', '.join(REVIEWED_STATES)}, got {self.reviewed!r}")
        if self.review_status is not None and self.review_status not in QUEUE_STATES:
            raise ValueError(f"review_status must be one of {', '.join(QUEUE_STATES)}, got {self.review_status!r}")
        bad = [t for t in self.sentiment_trend or [] if t not in TRENDS]
        if bad:
            raise ValueError(f"sentiment trend must be one of {', '.join(TRENDS)}, got {bad[0]!r}")


@dataclass(frozen=True)
class SearchHit:
    """One utterance that matched: where (index, time) and its redacted text."""

    call_id: str
    utterance_idx: int
    start_s: float
    end_s: float
    speaker_role: str
    text: str


@dataclass
class CallPage:
    rows: pd.DataFrame
    total: int
    hits: dict[str, list[SearchHit]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewSets:
    """What the reviews file knows, as ids (filled only for the filters a query uses)."""

    reviewed: list[str] = field(default_factory=list)
    signed_off: list[str] = field(default_factory=list)
    disputed: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    # calls whose latest scoring has a review of `failed_item`: the review says fail / says otherwise
    item_fail_in: list[str] = field(default_factory=list)
    item_fail_out: list[str] = field(default_factory=list)


# The calls whose latest scoring's automatic result of an item is a fail (latest: LATEST_FIRST, as
# everywhere), computed from that item's fails only: no window over every score.
FAILED_ITEM_CTES = [
    """failcand AS (SELECT call_id, rubric_id, rubric_version FROM item_results
                    WHERE source = 'auto' AND item_id = ? AND outcome = 'fail')""",
    f"""faillatest AS (
        SELECT x.call_id FROM (
            SELECT s.call_id, s.rubric_id, s.rubric_version,
                   row_number() OVER (PARTITION BY s.call_id ORDER BY {LATEST_FIRST}) AS n
            FROM call_scores s SEMI JOIN failcand f ON f.call_id = s.call_id) x
        JOIN failcand f ON f.call_id = x.call_id AND f.rubric_id = x.rubric_id AND f.rubric_version = x.rubric_version
        WHERE x.n = 1)""",
]


def hits_sql(words: list[str]) -> tuple[str, list[Any]]:
    """(call_id, utterance_idx) where every word starts a token of the same utterance."""
    parts, params = [], []
    for w in words:
        parts.append("SELECT call_id, utterance_idx FROM search_tokens WHERE token >= ? AND token < ?")
        params.extend(text_index.prefix_bounds(w))
    return " INTERSECT ".join(parts), params


def where_clause(q: CallQuery, sets: ReviewSets) -> tuple[list[str], list[Any], list[str]]:
    """(predicates over `c`/`l`, their parameters, extra CTEs) for a query. Empty lists: no filter."""
    where: list[str] = []
    params: list[Any] = []  # of the predicates
    cte_params: list[Any] = []  # of the CTEs, which come first in the SQL
    ctes: list[str] = []
    words = text_index.query_words(q.text)
    if q.text and q.text.strip() and not words:
        where.append("FALSE")  # only one-letter words or punctuation: nothing to look for
    if words:
        sql, p = hits_sql(words)
        ctes.append(f"hits AS ({sql})")
        cte_params.extend(p)
        where.append("c.call_id IN (SELECT call_id FROM hits)")
    if q.agent and q.agent.strip():
        agent = text_index.fold_sql("(coalesce(c.agent_name, '') || ' ' || coalesce(c.agent_id, ''))")
        where.append(f"contains({agent}, ?)")
        params.append(text_index.fold(q.agent.strip()))
    if q.failed_item:
        ctes.extend(FAILED_ITEM_CTES)
        cte_params.append(q.failed_item)
        where.append("""((c.call_id IN (SELECT call_id FROM faillatest) AND NOT list_contains(?::VARCHAR[], c.call_id))
                         OR list_contains(?::VARCHAR[], c.call_id))""")
        params.extend([sets.item_fail_out, sets.item_fail_in])
    for column, values in (("c.queue", q.queue), ("c.direction", q.direction), ("c.language", q.languages),
                           ("c.status", q.statuses)):
        if values:
            where.append(f"list_contains(?::VARCHAR[], {column})")
            params.append([str(v) for v in values])
    if q.reviewed == "reviewed":
        where.append("list_contains(?::VARCHAR[], c.call_id)")
        params.append(sets.reviewed)
    elif q.reviewed == "unreviewed":
        where.append("NOT list_contains(?::VARCHAR[], c.call_id)")
        params.append(sets.reviewed)
    elif q.reviewed in ("signed_off", "disputed"):
        where.append("list_contains(?::VARCHAR[], c.call_id)")
        params.append(sets.signed_off if q.reviewed == "signed_off" else sets.disputed)
    if q.review_status:
        where.append("list_contains(?::VARCHAR[], c.call_id)")
        params.append(sets.queued)
    if q.roles_uncertain is True:
        where.append("c.role_confidence < ?")
        params.append(ROLES_UNCERTAIN_BELOW)
    elif q.roles_uncertain is False:
        where.append("c.role_confidence >= ?")
        params.append(ROLES_UNCERTAIN_BELOW)
    if q.profile:
        where.append("EXISTS (SELECT 1 FROM call_profiles p WHERE p.call_id = c.call_id AND list_contains(?::VARCHAR[], p.profile))")
        params.append([str(p) for p in q.profile])
    if q.sentiment_trend:
        where.append("list_contains(?::VARCHAR[], json_extract_string(c.sentiment_json, '$.customer_trajectory'))")
        params.append([str(t) for t in q.sentiment_trend])
    if q.date_from is not None:
        where.append("c.started_at >= ?")
        params.append(q.date_from.isoformat())
    if q.date_to is not None:
        where.append("c.started_at < ?")
        params.append((q.date_to + timedelta(days=1)).isoformat())
    return where, cte_params + params, ctes
