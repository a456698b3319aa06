"""`call_kpis`: every contact's KPI row, recomputed across calls in one transaction.

A repeat call changes the row of an earlier contact (maybe days old, maybe another agent's), and
an erased call changes its neighbours' rows, so rows are not written with each call: `refresh`
recomputes all of them set-based from the store and rewrites, in one transaction, the rows that
differ from the stored ones (see README for the cost at 100k calls). Running it twice gives the
same rows and writes nothing the second time. It runs at the
end of every batch (`pipelines.flows`), after `callqa delete` / retention (`qa.access.erase`),
and on `callqa kpi refresh`. The settings it used are kept in `meta` (`kpi_config`) so a refresh
started without settings (an erasure) uses the same windows.

Rows of anonymised calls are `frozen`: the customer id is gone, so their status cannot be
recomputed; they keep the status they had.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.kpi import satisfaction
from qa.kpi.fcr import CHAIN_SQL
from qa.kpi.handle_time import AFTER_CALL_SQL, after_call_expr
from qa.kpi.wait import UNANNOUNCED_SQL
from qa.store import KPI_DDL, SURVEY_DDL, Store

_METRICS = ("hold_total_s", "hold_count", "agent_response_latency_mean_s", "agent_response_latency_max_s",
            "dead_air_longest_s")
ROW_COLUMNS = ["call_id", "customer_known", "is_first", "first_call_id", "repeat_call_id", "window_s",
               "window_ends_at", "talk_s", "hold_s", "hold_count", "after_call_gap_s", "latency_mean_s",
               "latency_max_s", "unannounced_wait_max_s", "csat", "csat_estimate"]


@dataclass(frozen=True)
class KpiConfig:
    window_days: float = 7.0
    queue_window_days: dict[str, float] = field(default_factory=dict)
    after_call_max_s: float = 300.0

    @classmethod
    def from_settings(cls, settings) -> "KpiConfig":
        return cls(settings.fcr_window_days, dict(settings.fcr_queue_window_days), settings.after_call_max_s)


@dataclass
class RefreshResult:
    contacts: int  # rows written (not frozen)
    frozen: int
    first_contacts: int
    unknown_customer: int
    changed: int  # rows written because they differ from the stored ones (0 on a re-run)
    seconds: float


SELECT_SQL = f"""
WITH base AS (
    SELECT c.call_id, nullif(trim(c.customer_id), '') AS customer_id, c.agent_id, c.started_at, c.duration_s,
           coalesce(w.window_s, ?) AS window_s, c.metadata_json, c.sentiment_json
    FROM calls c LEFT JOIN kpi_windows w ON w.queue = c.queue
    WHERE c.status IN ('ok', 'unscored')
),
{CHAIN_SQL.strip()},
{AFTER_CALL_SQL.strip()},
m AS (
    SELECT call_id, {", ".join(f"max(value) FILTER (WHERE name = '{n}') AS {n}" for n in _METRICS)}
    FROM call_metrics WHERE list_contains({[*_METRICS]!r}, name) GROUP BY call_id
),
u AS ({UNANNOUNCED_SQL}),
closing AS (  -- the customer's last two utterances (by start, then index): top-2 per call, no sort of all rows
    SELECT call_id, list_avg(arg_max(sentiment_polarity, {{'s': start_s, 'i': idx}}, 2)) AS closing
    FROM utterances WHERE speaker_role = 'customer' AND sentiment_polarity IS NOT NULL GROUP BY call_id
)
SELECT b.call_id, b.customer_id IS NOT NULL AS customer_known, k.is_first, k.first_call_id, k.repeat_call_id,
       b.window_s, k.window_ends_at,
       b.duration_s - coalesce(m.hold_total_s, 0) AS talk_s, coalesce(m.hold_total_s, 0) AS hold_s,
       coalesce(m.hold_count, 0)::INTEGER AS hold_count, {after_call_expr()} AS after_call_gap_s,
       m.agent_response_latency_mean_s AS latency_mean_s, m.agent_response_latency_max_s AS latency_max_s,
       CASE WHEN m.call_id IS NULL AND u.call_id IS NULL THEN NULL
            ELSE round(greatest(coalesce(m.dead_air_longest_s, 0), coalesce(u.unannounced_hold_s, 0)), 3)
       END AS unannounced_wait_max_s,
       coalesce(sv.csat, CASE WHEN try_cast(json_extract_string(b.metadata_json, '$.csat') AS INTEGER) BETWEEN 1 AND 5
            THEN try_cast(json_extract_string(b.metadata_json, '$.csat') AS INTEGER) END) AS csat,
       cl.closing, try_cast(json_extract_string(b.sentiment_json, '$.customer_end') AS DOUBLE) AS end_polarity,
       json_extract_string(b.sentiment_json, '$.customer_trajectory') AS trajectory
FROM base b LEFT JOIN contacts k ON k.call_id = b.call_id LEFT JOIN agent_next n ON n.call_id = b.call_id
     LEFT JOIN m ON m.call_id = b.call_id LEFT JOIN u ON u.call_id = b.call_id
     LEFT JOIN closing cl ON cl.call_id = b.call_id LEFT JOIN call_surveys sv ON sv.call_id = b.call_id
WHERE b.call_id NOT IN (SELECT call_id FROM call_kpis WHERE frozen)
"""


def _stored_config(con) -> KpiConfig:
    row = con.execute("SELECT value FROM meta WHERE key = 'kpi_config'").fetchall()
    if not row:
        return KpiConfig()
    try:
        return KpiConfig(**json.loads(row[0][0]))
    except (TypeError, ValueError):
        return KpiConfig()


def refresh_in(con, config: KpiConfig | None = None) -> RefreshResult:
    """Recompute every non-frozen row on an open connection, inside the caller's transaction."""
    import pyarrow as pa

    t0 = time.perf_counter()
    con.execute(KPI_DDL)
    con.execute(SURVEY_DDL)
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    config = config or _stored_config(con)
    windows = pa.table({"queue": pa.array(list(config.queue_window_days), pa.string()),
                        "window_s": pa.array([86400.0 * d for d in config.queue_window_days.values()], pa.float64())})
    con.register("kpi_windows", windows)
    try:
        rows = con.execute(SELECT_SQL, [86400.0 * config.window_days, config.after_call_max_s]).fetchdf()
    finally:
        con.unregister("kpi_windows")
    rows["csat_estimate"] = satisfaction.estimate(rows["closing"], rows["end_polarity"], rows["trajectory"]).astype(float)
    cols = ", ".join(ROW_COLUMNS)
    # only rows that changed are rewritten: a batch of new calls touches those and their neighbours, and a
    # second refresh writes nothing (rewriting 100k rows made the commit cost seconds)
    con.execute(f"CREATE OR REPLACE TEMP TABLE kpi_stage AS SELECT {cols} FROM call_kpis LIMIT 0")
    con.register("kpi_new", rows[ROW_COLUMNS])
    try:
        con.execute(f"INSERT INTO kpi_stage SELECT {cols} FROM kpi_new")
    finally:
        con.unregister("kpi_new")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE kpi_changed AS
                    SELECT {cols} FROM kpi_stage EXCEPT SELECT {cols} FROM call_kpis WHERE NOT coalesce(frozen, false)""")
    con.execute("""DELETE FROM call_kpis WHERE call_id IN (SELECT call_id FROM kpi_changed)
                   OR (NOT coalesce(frozen, false) AND call_id NOT IN (SELECT call_id FROM kpi_stage))
                   OR call_id NOT IN (SELECT call_id FROM calls)""")
    con.execute(f"INSERT INTO call_kpis ({cols}, frozen, computed_at) SELECT {cols}, false, now() FROM kpi_changed")
    changed = con.execute("SELECT count(*) FROM kpi_changed").fetchone()[0]
    con.execute("DROP TABLE kpi_stage")
    con.execute("DROP TABLE kpi_changed")
    con.execute("INSERT INTO meta VALUES ('kpi_config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [json.dumps(asdict(config))])
    frozen = con.execute("SELECT count(*) FROM call_kpis WHERE frozen").fetchone()[0]
    return RefreshResult(len(rows), int(frozen), int(rows["is_first"].fillna(False).astype(bool).sum()),
                         int((~rows["customer_known"].astype(bool)).sum()), int(changed),
                         round(time.perf_counter() - t0, 3))


def refresh(db: str | Path, config: KpiConfig | None = None) -> RefreshResult | None:
    """Recompute `call_kpis` in one transaction (None when there is no store yet)."""
    if not Path(db).is_file():
        return None
    with Store(db).connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            out = refresh_in(con, config)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return out


def forget_in(con, call_ids: list[str]) -> None:
    """Erasure: the survey scores of deleted calls go with them (call `refresh_in` after)."""
    con.execute(SURVEY_DDL)
    con.execute("DELETE FROM call_surveys WHERE list_contains(?::VARCHAR[], call_id)", [call_ids])


def freeze_in(con, call_ids: list[str]) -> None:
    """Keep the rows of calls being anonymised as they are (their customer id is about to go)."""
    con.execute(KPI_DDL)
    con.execute("UPDATE call_kpis SET frozen = true WHERE list_contains(?::VARCHAR[], call_id)", [call_ids])


def after_batch(settings: Any) -> str:
    """The batch's closing refresh; a failure is reported, never fatal (the next run refreshes again)."""
    try:
        out = refresh(settings.db, KpiConfig.from_settings(settings))
    except Exception as exc:  # the calls are stored; only the KPI rows wait for the next refresh
        return f"KPI refresh failed ({type(exc).__name__}: {exc}); run `callqa kpi refresh`"
    if out is None:
        return ""
    return (f"KPIs refreshed: {out.contacts} contacts, {out.first_contacts} first contacts, "
            f"{out.unknown_customer} without a customer id, {out.changed} rows changed ({out.seconds:.2f} s)")
