"""The longest stretch a customer waited without being told: a per-call metric rubrics can use.

A wait without an announcement is an unannounced hold (`qa.holds`: a stretch without words the
agent did not announce, e.g. 40 s of silence after "one second") or dead air (nobody speaking
outside holds, `qa.metrics`' `dead_air_longest_s`). Announced holds do not count: the customer
was told. `unannounced_wait_max_s` is the longest of them, 0 when there is none, None when the
call has no analysis at all. A rubric uses it as `{type: metric, metric: unannounced_wait_max_s,
max: 30}` ("never more than 30 s without an announcement") or in `applies_when`.
`qa.kpi.refresh` computes the same value in SQL for the KPI tables (`UNANNOUNCED_SQL`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

METRIC = "unannounced_wait_max_s"


def unannounced_wait_max_s(metrics: dict[str, Any], holds: Iterable[tuple[float, float, bool]]) -> float | None:
    """Longest unannounced hold or dead-air stretch; `holds` are (start_s, end_s, announced)."""
    holds = list(holds)
    if not metrics and not holds:
        return None
    waits = [float(e) - float(s) for s, e, announced in holds if not announced]
    dead = metrics.get("dead_air_longest_s")
    if dead is not None:
        waits.append(float(dead))
    return round(max(waits, default=0.0), 3)


# the same per call in SQL, over call_metrics (m: dead_air_longest_s) and call_events
UNANNOUNCED_SQL = """SELECT call_id, max(end_s - start_s) AS unannounced_hold_s FROM call_events
    WHERE kind = 'hold' AND json_extract_string(details_json, '$.announced') IS DISTINCT FROM 'true' GROUP BY call_id"""
