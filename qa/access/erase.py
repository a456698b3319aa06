"""Deleting calls (erasure requests) and retention (delete or anonymise calls older than N days).

`delete_calls` removes a call and everything derived from it from the store in one transaction
(calls, utterances, words, speech turns, PII ranges, metrics, events, profiles, item results,
scores, failed attempts), then its reviews from the reviews file, then (only when asked) the
recording and its JSON sidecar, and writes one audit row per call. DuckDB cannot write two
database files in one transaction, so the reviews go second; a run interrupted between the two
leaves reviews of a call that no longer exists, and running the same command again removes them
(deleting an id that is not in the store still clears its reviews and is audited).

`anonymise_calls` keeps a call's scores and metrics (so team averages stay true) and removes what
identifies a person: transcript text, words, PII ranges, evidence quotes, customer id, metadata,
profile reasons, the file path, and the recording itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from qa.access import day_totals
from qa.access.audit import AuditLog
from qa.access.model import AccessDenied, Viewer
from qa.config import display_timezone
from qa.kpi.refresh import forget_in, freeze_in, refresh_in
from qa.reviews import REVIEW_DDL, ReviewStore
from qa.store import CALL_TABLES, Store

DERIVED_TABLES = (*CALL_TABLES, "item_results", "call_scores", "failures")


@dataclass
class EraseResult:
    call_id: str
    found: bool
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed (or changed)
    reviews: int = 0
    audio_removed: list[str] = field(default_factory=list)


def _remove_audio(source_path: str | None) -> list[str]:
    """The recording and its sidecar (same stem, .json); the paths actually removed."""
    removed = []
    if not source_path:
        return removed
    src = Path(source_path)
    for path in (src, src.with_suffix(".json")):
        if path.is_file():
            path.unlink()
            removed.append(str(path))
    return removed


def _delete_reviews(db: str | Path, call_ids: list[str]) -> dict[str, int]:
    reviews = ReviewStore(db)
    if not reviews.path.is_file() or not call_ids:
        return {c: 0 for c in call_ids}
    with reviews.store.connect() as con:
        con.execute(REVIEW_DDL)
        counts = dict(con.execute("SELECT call_id, count(*) FROM reviews WHERE list_contains(?::VARCHAR[], call_id)"
                                  " GROUP BY call_id", [call_ids]).fetchall())
        con.execute("DELETE FROM reviews WHERE list_contains(?::VARCHAR[], call_id)", [call_ids])
    return {c: int(counts.get(c, 0)) for c in call_ids}


def delete_calls(db: str | Path, viewer: Viewer, call_ids: list[str], with_audio: bool = False,
                 reason: str = "delete") -> list[EraseResult]:
    """Remove calls and everything derived from them (see the module docstring). Admins only."""
    if not viewer.is_admin:
        raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not delete calls")
    call_ids = list(dict.fromkeys(c for c in call_ids if c))
    store = Store(db)
    results = {c: EraseResult(c, False) for c in call_ids}
    paths: dict[str, str | None] = {}
    if Path(db).is_file() and call_ids:
        store.init()  # an older store: every derived table (the search index too) in place first
        with store.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for cid, path in con.execute("SELECT call_id, source_path FROM calls WHERE list_contains(?::VARCHAR[], call_id)",
                                             [call_ids]).fetchall():
                    results[cid].found, paths[cid] = True, path
                for table in (*DERIVED_TABLES, "calls"):
                    for cid, n in con.execute(f"SELECT call_id, count(*) FROM {table} WHERE list_contains(?::VARCHAR[], call_id)"
                                              " GROUP BY call_id", [call_ids]).fetchall():
                        results[cid].rows[table] = int(n)
                    con.execute(f"DELETE FROM {table} WHERE list_contains(?::VARCHAR[], call_id)", [call_ids])
                forget_in(con, call_ids)  # KPIs: its imported survey score, then its neighbours' rows
                refresh_in(con)  # the erased call no longer repeats (or precedes) anyone's contact
                day_totals.refresh_in(con, display_timezone())  # the coaching pages' per-day counts without it
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
    for cid, n in _delete_reviews(db, call_ids).items():
        results[cid].reviews = n
    audit = AuditLog(db)
    for cid, res in results.items():
        if with_audio:
            res.audio_removed = _remove_audio(paths.get(cid))
        audit.record(viewer, "delete_call" if reason == "delete" else "retention", cid, reason,
                     found=res.found, rows=res.rows, reviews=res.reviews, audio_removed=bool(res.audio_removed))
    return list(results.values())


ANONYMISE_SQL = [
    "UPDATE utterances SET text = '', sentiment_label = NULL WHERE list_contains(?::VARCHAR[], call_id)",
    "DELETE FROM words WHERE list_contains(?::VARCHAR[], call_id)",
    "DELETE FROM pii_redactions WHERE list_contains(?::VARCHAR[], call_id)",
    "DELETE FROM search_tokens WHERE list_contains(?::VARCHAR[], call_id)",
    "UPDATE item_results SET evidence_text = NULL WHERE list_contains(?::VARCHAR[], call_id)",
    "UPDATE call_profiles SET reasons_json = '[]' WHERE list_contains(?::VARCHAR[], call_id)",
    "DELETE FROM failures WHERE list_contains(?::VARCHAR[], call_id)",
    """UPDATE calls SET customer_id = NULL, source_path = NULL, error = NULL,
           metadata_json = json_object('anonymised_at', now()::VARCHAR) WHERE list_contains(?::VARCHAR[], call_id)""",
]


def anonymise_calls(db: str | Path, viewer: Viewer, call_ids: list[str]) -> list[EraseResult]:
    """Keep scores and metrics, remove what identifies a person (and the recording). Admins only."""
    if not viewer.is_admin:
        raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not anonymise calls")
    call_ids = list(dict.fromkeys(call_ids))
    if not call_ids or not Path(db).is_file():
        return []
    Store(db).init()  # an older store: the search index in place first
    with Store(db).connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            paths = dict(con.execute("SELECT call_id, source_path FROM calls WHERE list_contains(?::VARCHAR[], call_id)",
                                     [call_ids]).fetchall())
            freeze_in(con, call_ids)  # KPIs: the contact keeps its status once its customer id is gone
            for sql in ANONYMISE_SQL:
                con.execute(sql, [call_ids])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    audit = AuditLog(db)
    out = []
    for cid in call_ids:
        res = EraseResult(cid, cid in paths, audio_removed=_remove_audio(paths.get(cid)))
        audit.record(viewer, "retention", cid, "anonymise", found=res.found, audio_removed=bool(res.audio_removed))
        out.append(res)
    return out


def calls_older_than(db: str | Path, days: int, now: datetime | None = None) -> list[str]:
    """Ids of calls that started (else were processed) more than `days` days ago and are not anonymised yet."""
    if not Path(db).is_file():
        return []
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    rows = Store(db).query("""SELECT call_id FROM calls WHERE coalesce(started_at, processed_at) < ?
                              AND coalesce(json_extract_string(metadata_json, '$.anonymised_at'), '') = ''
                              ORDER BY call_id""", [cutoff])
    return [r[0] for r in rows]


def apply_retention(db: str | Path, viewer: Viewer, days: int, action: str = "delete",
                    now: datetime | None = None) -> list[EraseResult]:
    """Delete (with the recording) or anonymise every call older than `days` days."""
    if days < 1:
        raise ValueError("retention_days must be at least 1")
    old = calls_older_than(db, days, now)
    if action == "delete":
        return delete_calls(db, viewer, old, with_audio=True, reason=f"retention {days} d")
    if action == "anonymise":
        return anonymise_calls(db, viewer, old)
    raise ValueError(f"retention action must be 'delete' or 'anonymise', got {action!r}")


def summary(results: list[EraseResult]) -> str:
    found = [r for r in results if r.found]
    rows = sum(sum(r.rows.values()) for r in results)
    return json.dumps({"calls": len(found), "not_found": len(results) - len(found), "rows": rows,
                       "reviews": sum(r.reviews for r in results),
                       "audio_files": sum(len(r.audio_removed) for r in results)})
