"""The reviews file's tables beyond item reviews, and the dataclasses the pages get.

`<db>.reviews.duckdb` (see `qa.reviews` for why a file of its own) holds, besides `reviews`:

  queue_items           one row per queued call: assignee, status, reasons (plain words + codes)
  queue_events          every status change of a queued call (who, when) - for the timeline
  sampling_rules        every rule set saved (latest per team wins), with who set it
  signoffs              call-level "reviewed, agree / disagree with the AI" with a comment
  call_comments         free comments on a call
  disputes              an agent's dispute of one item (append-only)
  dispute_decisions     the team lead's decision (one per dispute); an accepted one points at
                        the review row it wrote (so `qa.access.effective` applies it)
  calibration_sessions  calls several reviewers score blind; closures; calibration_scores

Every table is append-only except `queue_items` (its status moves; the moves are in
`queue_events`). Schema changes follow the store's pattern: `CREATE ... IF NOT EXISTS` and
`ADD COLUMN IF NOT EXISTS`, a version row in `review_meta`, so an old file upgrades in place.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from qa.reviews import REVIEW_DDL, reviews_path
from qa.store import Store

REVIEW_FILE_VERSION = 2  # 1: reviews only; 2: queue, rules, sign-offs, comments, disputes, calibration
DDL = [
    REVIEW_DDL,
    "CREATE TABLE IF NOT EXISTS review_meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS queue_items (
        call_id VARCHAR PRIMARY KEY, assignee VARCHAR, status VARCHAR NOT NULL, reasons_json VARCHAR NOT NULL,
        codes_json VARCHAR NOT NULL, added_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, added_by VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS queue_events (
        call_id VARCHAR NOT NULL, event_at TIMESTAMPTZ NOT NULL, actor VARCHAR, status VARCHAR, detail VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sampling_rules (
        rules_id VARCHAR PRIMARY KEY, team VARCHAR, rules_json VARCHAR NOT NULL, set_by VARCHAR NOT NULL,
        set_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS signoffs (
        signoff_id VARCHAR PRIMARY KEY, call_id VARCHAR NOT NULL, rubric_id VARCHAR, rubric_version VARCHAR,
        reviewer VARCHAR NOT NULL, reviewer_identity VARCHAR NOT NULL, verdict VARCHAR NOT NULL, comment VARCHAR,
        created_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS call_comments (
        comment_id VARCHAR PRIMARY KEY, call_id VARCHAR NOT NULL, author VARCHAR NOT NULL,
        author_identity VARCHAR NOT NULL, text VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS disputes (
        dispute_id VARCHAR PRIMARY KEY, call_id VARCHAR NOT NULL, rubric_id VARCHAR NOT NULL,
        rubric_version VARCHAR NOT NULL, item_id VARCHAR NOT NULL, agent_id VARCHAR, raised_by VARCHAR NOT NULL,
        raised_by_identity VARCHAR NOT NULL, comment VARCHAR NOT NULL, outcome_at_dispute VARCHAR,
        requested_outcome VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dispute_decisions (
        dispute_id VARCHAR PRIMARY KEY, decision VARCHAR NOT NULL, decided_by VARCHAR NOT NULL,
        decided_by_identity VARCHAR NOT NULL, comment VARCHAR NOT NULL, review_id VARCHAR,
        decided_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS calibration_sessions (
        session_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, created_by VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, call_ids_json VARCHAR NOT NULL, reviewers_json VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS calibration_closures (
        session_id VARCHAR PRIMARY KEY, closed_by VARCHAR NOT NULL, closed_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS calibration_scores (
        session_id VARCHAR NOT NULL, call_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL,
        reviewer_identity VARCHAR NOT NULL, reviewer VARCHAR NOT NULL, outcome VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL)""",
]
_lock = threading.Lock()


def where_sql(conditions: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """`WHERE a AND b` over the conditions whose value is not None, and their parameters ("" when none)."""
    kept = [(c, v) for c, v in conditions if v is not None]
    return ("WHERE " + " AND ".join(c for c, _ in kept)) if kept else "", [v for _, v in kept]


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class ReviewFile:
    """The reviews file of the store at `db`: short connections with lock retry, schema ensured on write."""

    def __init__(self, db: str | Path, timeout_s: float = 20.0):
        self.path = reviews_path(db)
        self.store = Store(self.path, timeout_s=timeout_s, read_timeout_s=timeout_s)

    @contextmanager
    def writer(self) -> Iterator[Any]:
        """A write connection in a transaction, with every table in place (idempotent upgrade)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _lock, self.store.connect() as con:
            for ddl in DDL:
                con.execute(ddl)
            con.execute("INSERT INTO review_meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE "
                        "SET value = excluded.value", [str(REVIEW_FILE_VERSION)])
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows, or [] while the file or the table does not exist yet (nothing saved)."""
        if not self.path.is_file():
            return []
        try:
            return self.store.query(sql, params)
        except Exception as exc:
            if "does not exist" in str(exc):
                return []
            raise


@dataclass(frozen=True)
class QueueEntry:
    call_id: str
    assignee: str | None
    status: str  # to_review | in_review | done
    reasons: tuple[str, ...]
    reason_codes: tuple[str, ...]
    added_at: datetime
    updated_at: datetime
    agent: str | None = None
    started_at: datetime | None = None
    queue: str | None = None
    direction: str | None = None
    score_pct: float | None = None
    band: str | None = None
    auto_failed: bool | None = None


@dataclass(frozen=True)
class Neighbours:
    previous: str | None
    next: str | None
    position: int | None  # 1-based, None when the call is not in the list
    total: int


@dataclass(frozen=True)
class FillResult:
    added: int
    updated: int
    unchanged: int
    by_reason: dict[str, int]
    by_assignee: dict[str, int]


@dataclass(frozen=True)
class SignOff:
    signoff_id: str
    call_id: str
    rubric_id: str | None
    rubric_version: str | None
    reviewer: str
    verdict: str  # agree | disagree
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class Comment:
    comment_id: str
    call_id: str
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class TimelineEvent:
    when: datetime
    who: str  # "AI" for the machine
    what: str
    kind: str  # ai_score | queued | queue_status | override | sign_off | comment | dispute | dispute_accepted | dispute_rejected
    item_id: str | None = None
    item_title: str | None = None
    before: str | None = None
    after: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AutoFailNote:
    item_ids: tuple[str, ...]
    item_titles: tuple[str, ...]
    still_failed: bool
    lifted_by: str | None
    lifted_at: datetime | None
    text: str


@dataclass(frozen=True)
class Dispute:
    dispute_id: str
    call_id: str
    rubric_id: str
    rubric_version: str
    item_id: str
    item_title: str
    agent_id: str | None
    raised_by: str
    comment: str
    outcome_at_dispute: str | None
    requested_outcome: str
    created_at: datetime
    status: str  # open | accepted | rejected
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str | None = None
