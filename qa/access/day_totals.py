"""Day totals for the coaching figures: automatic item outcomes and talk metrics per agent and day.

A team's month at 100k calls is ~1.2M item rows; counting them costs every page a full read of
`item_results`. `coach_item_days` and `coach_metric_days` hold the same counts and sums per agent,
day (in `display_timezone`), rubric, queue and language of each call's latest scoring (~30k rows at
100k calls), so the coaching reads (`DuckDBRepository.period_item_counts_many`,
`period_metric_means_many`) add up a few rows per agent and day instead.

They are derived and never needed for correctness:
- automatic outcomes only: reviews are applied on read, per reviewed call, as on the item rows;
- rebuilt whole, in one transaction (~1-2 s at 100k calls), after every batch, deletion, retention
  and rescoring (`refresh`, `refresh_in`);
- stamped with a fingerprint of the calls and scorings they were built from and the time zone of
  their days: a read that finds another fingerprint (something was written since) or another zone
  reads the item rows instead (`usable`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from qa.access.effective import LATEST_FIRST
from qa.store import Store

DDL = [
    """CREATE TABLE IF NOT EXISTS coach_item_days (
        day DATE, agent_id VARCHAR, rubric_id VARCHAR, queue VARCHAR, language VARCHAR, section_id VARCHAR,
        item_id VARCHAR, critical BOOLEAN, applicable BIGINT, passed BIGINT, failed BIGINT, na BIGINT)""",
    """CREATE TABLE IF NOT EXISTS coach_metric_days (
        day DATE, agent_id VARCHAR, rubric_id VARCHAR, queue VARCHAR, language VARCHAR, name VARCHAR,
        n BIGINT, total DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
]

# what the totals were built from: any change to a call's row (status, agent, queue, language, start, reprocessing)
# or to its scorings changes it (item rows and metrics are only ever written with those)
FINGERPRINT_SQL = """SELECT
    (SELECT count(*) || ':' || coalesce(bit_xor(hash(call_id, status, agent_id, queue, language, started_at,
                                                     processed_at)), 0) FROM calls) || '/' ||
    (SELECT count(*) || ':' || coalesce(bit_xor(hash(call_id, rubric_id, rubric_version, scored_at)), 0)
     FROM call_scores)"""

_LATEST = f"""latest AS (SELECT s.call_id, s.rubric_id, s.rubric_version FROM call_scores s
    QUALIFY row_number() OVER (PARTITION BY s.call_id ORDER BY {LATEST_FIRST}) = 1),
    days AS (SELECT c.call_id, c.agent_id, CAST(timezone(?, c.started_at) AS DATE) AS day, l.rubric_id,
                    l.rubric_version, c.queue, c.language
             FROM calls c JOIN latest l ON l.call_id = c.call_id
             WHERE c.status = 'ok' AND c.agent_id IS NOT NULL AND c.started_at IS NOT NULL)"""

BUILD_ITEMS = f"""INSERT INTO coach_item_days WITH {_LATEST}
    SELECT d.day, d.agent_id, d.rubric_id, d.queue, d.language, i.section_id, i.item_id, bool_or(i.critical),
           count(*) FILTER (WHERE i.outcome IN ('pass', 'fail')), count(*) FILTER (WHERE i.outcome = 'pass'),
           count(*) FILTER (WHERE i.outcome = 'fail'), count(*) FILTER (WHERE i.outcome = 'na')
    FROM item_results i JOIN days d ON d.call_id = i.call_id AND d.rubric_id = i.rubric_id
         AND d.rubric_version = i.rubric_version
    WHERE i.source = 'auto' GROUP BY ALL"""

BUILD_METRICS = f"""INSERT INTO coach_metric_days WITH {_LATEST}
    SELECT d.day, d.agent_id, d.rubric_id, d.queue, d.language, m.name, count(m.value), fsum(m.value)
    FROM call_metrics m JOIN days d ON d.call_id = m.call_id GROUP BY ALL"""


@dataclass
class DayTotals:
    item_rows: int
    metric_rows: int
    seconds: float


def fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute(FINGERPRINT_SQL).fetchone()[0])


def refresh_in(con: duckdb.DuckDBPyConnection, tz: str) -> DayTotals:
    """Rebuild both tables inside the caller's transaction (days in the zone `tz`)."""
    t0 = time.perf_counter()
    for ddl in DDL:
        con.execute(ddl)
    con.execute("DELETE FROM coach_item_days")
    con.execute("DELETE FROM coach_metric_days")
    con.execute(BUILD_ITEMS, [tz])
    con.execute(BUILD_METRICS, [tz])
    stamp = f"{tz}|{fingerprint(con)}"
    con.execute("INSERT INTO meta VALUES ('coach_days', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [stamp])
    counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("coach_item_days", "coach_metric_days")]
    return DayTotals(int(counts[0]), int(counts[1]), time.perf_counter() - t0)


def refresh(db: str | Path, tz: str | None = None) -> DayTotals | None:
    """Rebuild the day totals in one transaction (None when there is no store yet)."""
    from qa.config import display_timezone

    if not Path(db).is_file():
        return None
    with Store(db).connect() as con:
        if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'item_results'").fetchall():
            return None
        con.execute("BEGIN TRANSACTION")
        try:
            out = refresh_in(con, tz or display_timezone())
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return out


def usable(query: Callable[[str], list[tuple]], tz: str) -> bool:
    """True when the totals were built from the store as it is now, with days in the zone `tz` (`query` runs
    SQL on the reader's connection)."""
    try:
        stamp = query("SELECT value FROM meta WHERE key = 'coach_days'")
        return bool(stamp) and stamp[0][0] == f"{tz}|{query(FINGERPRINT_SQL)[0][0]}"
    except duckdb.CatalogException:
        return False


def after_write(db: str | Path, tz: str | None = None) -> str:
    """The rebuild after a batch or a rescoring: a line to print; a failure is reported, never fatal (the pages
    read the item rows until the next rebuild)."""
    try:
        out = refresh(db, tz)
    except Exception as exc:
        return f"coaching day totals not rebuilt ({type(exc).__name__}: {exc}); the pages read the item rows meanwhile"
    return "" if out is None else (f"coaching day totals rebuilt: {out.item_rows} item rows, {out.metric_rows} metric "
                                   f"rows ({out.seconds:.2f} s)")
