"""The KPI section of a coaching report (and of the Coaching page): figures, words, CSV columns.

`section` is called once by `qa.coaching.generate.build`; the HTML/PDF partial
(`qa/coaching/templates/_kpis.html`) and the CSV columns read what it returns.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from qa.access.model import Viewer
from qa.access.repository import DuckDBRepository
from qa.kpi.labels import kpi_labels
from qa.kpi.summary import kpi_block

# the KPI table's rows, in order: (html id, label key, KpiFigures field, decimals)
ROWS = [("fcr", "fcr", "fcr_pct", 1), ("repeats", "repeats", "repeats", 0), ("unknown", "unknown", "unknown", 0),
        ("aht", "aht", "aht_s", 1), ("talk", "talk", "talk_s", 1), ("hold", "hold", "hold_s", 1),
        ("after", "after_call", "after_call_s", 1), ("hold-calls", "hold_calls", "hold_calls_pct", 1),
        ("latency", "latency", "latency_mean_s", 2), ("latency-max", "latency_max", "latency_max_s", 2),
        ("long-wait", "long_wait", "long_wait_pct", 1), ("csat", "csat", "csat_mean", 2),
        ("estimate", "estimate", "estimate_mean", 2)]
CSV_COLUMNS = ["fcr_status", "talk_s", "hold_s", "after_call_gap_s", "unannounced_wait_max_s", "csat",
               "csat_estimate"]


def section(repo: DuckDBRepository, viewer: Viewer, subject: Any, since: date, until: date, language: str,
            settings: Any = None, as_of: datetime | None = None, filters: Any = None,
            per_call: bool = False) -> dict[str, Any]:
    """{"block": KpiBlock, "L": words} for the report's subject (an agent or a team) and period, narrowed to the
    report's queue and language (`filters`); each call's values (`block.calls`, the CSV's) with `per_call`."""
    from qa.config import load_settings

    settings = settings or load_settings()
    block = kpi_block(repo, viewer, tuple(subject.agents), tuple(subject.team_agents), since, until,
                      settings.display_timezone, settings.wait_unannounced_s, as_of,
                      per_agent=subject.kind == "team", queue=getattr(filters, "queue", None),
                      language=getattr(filters, "language", None), per_call=per_call)
    words = dict(kpi_labels(language))
    words["long_wait"] = words["long_wait"].format(n=f"{settings.wait_unannounced_s:g}")
    return {"block": block, "L": words, "rows": ROWS}


def csv_values(kpis: dict[str, Any] | None, call_id: str) -> list[Any]:
    """The KPI columns appended to a report's CSV row ('' where unknown)."""
    values = (kpis or {}).get("block").calls.get(str(call_id), {}) if kpis else {}
    return ["" if values.get(c) is None else values.get(c) for c in CSV_COLUMNS]
