"""Post-call survey scores that arrive after the call: `callqa kpi import-csat FILE.csv`.

Surveys are answered hours or days after the call, when the recording is long processed (and a
re-run skips it). A CSV with a header holding `call_id` and `csat` (other columns ignored) is
read; each row is checked (a safe call id, a score 1-5 as for the sidecar's `csat`); bad rows
are reported with their line and reason and the rest stored. A score may arrive before its call:
it is kept and counts once the call is stored. An imported score wins over the sidecar's.
Scores and the KPI rows are written in one transaction; importing the same file twice changes
nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from qa.kpi.refresh import refresh_in
from qa.metadata import SAFE_CALL_ID, parse_csat
from qa.store import SURVEY_DDL, Store


@dataclass
class ImportResult:
    stored: int
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    unknown_calls: int = 0  # scores for calls not in the store (yet)


def read_scores(path: str | Path) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """call_id -> score from the CSV (the last row of a call wins), and the rejected rows."""
    scores: dict[str, int] = {}
    rejected: list[tuple[int, str]] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"call_id", "csat"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: the header needs the columns call_id and csat (missing: {', '.join(sorted(missing))})")
        for row in reader:
            line = reader.line_num
            call_id = (row.get("call_id") or "").strip()
            if not SAFE_CALL_ID.fullmatch(call_id):
                rejected.append((line, f"call_id {call_id[:40]!r} is not a call id"))
                continue
            score, why = parse_csat(row.get("csat"))
            if score is None:
                rejected.append((line, why or "csat is empty"))
                continue
            scores[call_id] = score
    return scores, rejected


def import_csat(db: str | Path, path: str | Path, source: str | None = None) -> ImportResult:
    scores, rejected = read_scores(path)
    Store(db).init()
    with Store(db).connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(SURVEY_DDL)
            rows = [[c, s, str(source or Path(path).name)] for c, s in scores.items()]
            if rows:
                con.executemany("""INSERT INTO call_surveys VALUES (?, ?, now(), ?) ON CONFLICT (call_id)
                                   DO UPDATE SET csat = excluded.csat, received_at = excluded.received_at,
                                   source = excluded.source""", rows)
            known = con.execute("SELECT count(*) FROM calls WHERE list_contains(?::VARCHAR[], call_id)",
                                [list(scores)]).fetchone()[0]
            refresh_in(con)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return ImportResult(len(scores), rejected, len(scores) - int(known))
