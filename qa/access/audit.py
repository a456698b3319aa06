"""The append-only audit trail: who opened which call, played which audio (redacted or original),
exported, downloaded, reviewed, deleted, or changed a user, and when.

Rows go to the access file (`<db>.access.duckdb`, see `qa.access.directory` for why not the
store). Nothing in callqa updates or deletes them; each row carries the SHA-256 of the previous
row's hash and its own content, so `verify()` finds a row edited or removed by hand afterwards.
Rows hold ids and actions, never transcript text.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qa.access.directory import AccessFile
from qa.access.model import Viewer

ACTIONS = (
    "open_call", "play_audio", "play_original_audio", "denied", "export", "review", "rescore", "delete_call",
    "retention", "user_add", "user_remove", "user_set_role", "user_seeded", "sign_in", "report",
    # the review desk (qa.review): queue, sign-off, comments, disputes, calibration, search
    "queue_rules", "queue_fill", "queue_status", "sign_off", "call_comment", "dispute", "dispute_decision",
    "calibration_session", "calibration_score", "calibration_close", "calibration_report", "search",
)
_COLUMNS = "seq, occurred_at, actor, role, auth, action, call_id, target, detail_json, prev_hash, row_hash"
_lock = threading.Lock()  # threads of one dashboard process share one DuckDB instance: number rows one at a time


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: datetime
    actor: str
    role: str | None
    auth: str | None
    action: str
    call_id: str | None
    target: str | None
    detail: dict[str, Any]
    prev_hash: str | None
    row_hash: str


def _hash(prev: str | None, at: datetime, actor: str, role: str | None, auth: str | None, action: str,
          call_id: str | None, target: str | None, detail_json: str) -> str:
    text = json.dumps([prev, at.astimezone(timezone.utc).isoformat(), actor, role, auth, action, call_id, target, detail_json])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, db: str | Path, timeout_s: float = 20.0):
        self.file = AccessFile(db, timeout_s)

    def record(self, viewer: Viewer, action: str, call_id: str | None = None, target: str | None = None,
               **detail: Any) -> AuditRow:
        """Append one row (never raises for an unknown action name: the name is stored as given)."""
        return self.record_many(viewer, [(action, call_id, target, detail)])[0]

    def record_many(self, viewer: Viewer,
                    entries: list[tuple[str, str | None, str | None, dict[str, Any]]]) -> list[AuditRow]:
        """Append (action, call_id, target, detail) rows in order, chained, over one connection (one user action
        that makes several rows: a review that also moves the queue)."""
        out = []
        with _lock, self.file.writer() as con:
            last = con.execute("SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchall()
            seq, prev = (last[0][0], last[0][1]) if last else (0, None)
            con.execute("BEGIN TRANSACTION")  # all the rows or none
            for action, call_id, target, detail in entries:
                at = datetime.now(timezone.utc)
                detail_json = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
                seq += 1
                row_hash = _hash(prev, at, viewer.identity, viewer.role, viewer.auth, action, call_id, target,
                                 detail_json)
                con.execute(f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [seq, at, viewer.identity, viewer.role, viewer.auth, action, call_id, target, detail_json,
                             prev, row_hash])
                out.append(AuditRow(seq, at, viewer.identity, viewer.role, viewer.auth, action, call_id, target,
                                    detail, prev, row_hash))
                prev = row_hash
            con.execute("COMMIT")  # an exception before: the connection closes and the transaction rolls back
        return out

    def rows(self, user: str | None = None, call_id: str | None = None, since: datetime | None = None,
             action: str | None = None, limit: int | None = None) -> list[AuditRow]:
        """Rows oldest first, filtered (all parameters bound, never formatted into the SQL)."""
        where, params = [], []
        for column, value in (("actor", user), ("call_id", call_id), ("action", action)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("occurred_at >= ?")
            params.append(since)
        sql = f"SELECT {_COLUMNS} FROM audit {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY seq"
        if limit is not None:
            sql = f"SELECT * FROM ({sql.replace('ORDER BY seq', 'ORDER BY seq DESC')} LIMIT ?) ORDER BY seq"
            params.append(int(limit))
        return [AuditRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8] or "{}"), r[9], r[10])
                for r in self.file.query(sql, params)]

    def verify(self) -> list[int]:
        """Sequence numbers whose row no longer matches its hash chain (empty: intact)."""
        bad, prev, expected_seq = [], None, 1
        for r in self.rows():
            detail_json = json.dumps(r.detail, ensure_ascii=False, sort_keys=True, default=str)
            if r.seq != expected_seq or r.prev_hash != prev or r.row_hash != _hash(
                    prev, r.at, r.actor, r.role, r.auth, r.action, r.call_id, r.target, detail_json):
                bad.append(r.seq)
            prev, expected_seq = r.row_hash, r.seq + 1
        return bad
