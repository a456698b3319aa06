"""KPI figures per agent, team, queue and period, against the team and the previous period.

Periods are days in `display_timezone` (a call at 00:30 Istanbul time on the 5th belongs to the
5th, though it started on the 4th in UTC); both ends inclusive. FCR counts the first contacts
that started in the period (by the agent of the first contact), with their status as of `as_of`
(default: now). The other figures are over every processed call in the period. Rows come from
`DuckDBRepository.kpi_calls` (scoped to the viewer); the team line is read with the team's scope
and only its aggregates are kept (no teammate's call reaches a report).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from qa.access.model import Scope, Viewer
from qa.access.repository import DuckDBRepository
from qa.kpi import satisfaction
from qa.kpi.fcr import fcr_pct
from qa.kpi.handle_time import aht
from qa.stats import exact_mean


@dataclass
class KpiFigures:
    calls: int = 0
    first_contacts: int = 0
    resolved: int = 0
    not_resolved: int = 0
    open: int = 0
    repeats: int = 0
    unknown: int = 0  # calls without a customer id (or a start time)
    pending: int = 0  # calls the last `callqa kpi refresh` has not seen
    fcr_pct: float | None = None
    aht_s: float | None = None
    talk_s: float | None = None
    hold_s: float | None = None  # mean hold per call (calls without a hold count 0)
    after_call_s: float | None = None
    after_call_n: int = 0
    hold_calls_pct: float | None = None  # calls with at least one hold
    hold_per_held_call_s: float | None = None  # mean hold of the calls that had one
    latency_mean_s: float | None = None  # mean of the calls' mean agent response latency
    latency_max_s: float | None = None  # the longest single response latency
    long_wait_calls: int = 0  # calls where the customer waited longer than the threshold unannounced
    long_wait_pct: float | None = None
    unannounced_wait_max_s: float | None = None
    csat_n: int = 0
    csat_mean: float | None = None
    estimate_n: int = 0
    estimate_mean: float | None = None
    agreement: satisfaction.Agreement = field(default_factory=lambda: satisfaction.Agreement(0, None, None, None))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _floats(rows: pd.DataFrame, name: str, mask: np.ndarray) -> np.ndarray:
    """A column as floats (missing and non-numbers NaN), the rows of `mask` only."""
    return pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)[mask]


def _known(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def figures(rows: pd.DataFrame, wait_threshold_s: float) -> KpiFigures:
    """Every figure from `kpi_calls` rows (the period's calls of the subject); on arrays (called per agent)."""
    if rows.empty:
        return KpiFigures()
    status = rows["fcr_status"].to_numpy(dtype=object)
    pending = rows["pending"].fillna(False).to_numpy(dtype=bool)
    counted = ~pending
    n_counted = int(counted.sum())
    talk, hold, after = (_floats(rows, c, counted) for c in ("talk_s", "hold_s", "after_call_gap_s"))
    resolved, not_resolved = int((status == "resolved").sum()), int((status == "not_resolved").sum())
    holds = np.nan_to_num(_floats(rows, "hold_count", counted), nan=0.0)
    waits = _known(_floats(rows, "unannounced_wait_max_s", counted))
    long_wait = int((waits > wait_threshold_s).sum())
    csat, est = _known(_floats(rows, "csat", counted)), _known(_floats(rows, "csat_estimate", counted))
    latency_max = _known(_floats(rows, "latency_max_s", counted))
    talk_m, hold_m, after_m = exact_mean(talk), exact_mean(hold), exact_mean(after)  # NaN (unknown) left out
    return KpiFigures(
        calls=len(rows), first_contacts=int(np.isin(status, ["resolved", "not_resolved", "open"]).sum()),
        resolved=resolved, not_resolved=not_resolved, open=int((status == "open").sum()),
        repeats=int((status == "repeat").sum()), unknown=int(((status == "unknown") & counted).sum()),
        pending=int(pending.sum()), fcr_pct=fcr_pct(resolved, not_resolved),
        aht_s=aht(talk_m, hold_m, after_m), talk_s=talk_m, hold_s=hold_m, after_call_s=after_m,
        after_call_n=int((~np.isnan(after)).sum()),
        hold_calls_pct=100.0 * int((holds > 0).sum()) / n_counted if n_counted else None,
        hold_per_held_call_s=exact_mean(hold[holds > 0]), latency_mean_s=exact_mean(_floats(rows, "latency_mean_s", counted)),
        latency_max_s=float(latency_max.max()) if len(latency_max) else None,
        long_wait_calls=long_wait, long_wait_pct=100.0 * long_wait / len(waits) if len(waits) else None,
        unannounced_wait_max_s=float(waits.max()) if len(waits) else None,
        csat_n=len(csat), csat_mean=exact_mean(csat), estimate_n=len(est), estimate_mean=exact_mean(est),
        agreement=satisfaction.agreement(_floats(rows, "csat_estimate", counted), _floats(rows, "csat", counted)),
    )


def day_bounds(since: date, until: date, tz: str) -> tuple[datetime, datetime]:
    """[since 00:00, until+1 00:00) in the zone `tz`, as UTC instants (23- and 25-hour days included)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(since, time(), zone).astimezone(timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time(), zone).astimezone(timezone.utc)
    return start, end


def previous_period(since: date, until: date) -> tuple[date, date]:
    days = (until - since).days + 1
    return since - timedelta(days=days), since - timedelta(days=1)


@dataclass
class KpiBlock:
    """The KPI section of a report or page: the subject, the team, the previous period, per agent, per call."""

    since: date
    until: date
    timezone: str
    as_of: datetime
    wait_threshold_s: float
    subject: KpiFigures
    previous: KpiFigures
    prev_since: date
    prev_until: date
    team: KpiFigures | None = None
    agents: list[dict[str, Any]] = field(default_factory=list)  # a team's agents side by side
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)  # call_id -> the call's KPI values
    method: str = satisfaction.METHOD


def rows_for(repo: DuckDBRepository, viewer: Viewer, since: date, until: date, tz: str, as_of: datetime,
             agents: tuple[str, ...] | None = None, queue: str | None = None,
             language: str | None = None) -> pd.DataFrame:
    start, end = day_bounds(since, until, tz)
    return repo.kpi_calls(viewer, start, end, as_of, agents, queue, language)


def kpi_block(repo: DuckDBRepository, viewer: Viewer, agents: tuple[str, ...], team_agents: tuple[str, ...],
              since: date, until: date, tz: str, wait_threshold_s: float, as_of: datetime | None = None,
              per_agent: bool = False, queue: str | None = None, language: str | None = None,
              per_call: bool = False) -> KpiBlock:
    """The subject's (`agents`) figures, the comparison team's aggregates and the previous period, over the calls
    of `queue` and `language` when given; each call's values (`calls`) only with `per_call`."""
    from qa.access.coaching import narrowed

    as_of = as_of or datetime.now(timezone.utc)
    mine = replace(viewer, scope=narrowed(viewer.scope, agents))
    prev_since, prev_until = previous_period(since, until)
    both = rows_for(repo, mine, prev_since, until, tz, as_of, agents, queue, language)  # one read for the two periods
    now = pd.to_datetime(both["started_at"], utc=True) >= day_bounds(since, until, tz)[0]
    rows, before = both[now.to_numpy()].reset_index(drop=True), both[~now.to_numpy()].reset_index(drop=True)
    block = KpiBlock(since, until, tz, as_of, wait_threshold_s, figures(rows, wait_threshold_s),
                     figures(before, wait_threshold_s), prev_since, prev_until)
    if team_agents:  # aggregates only, read with the team's scope
        team_viewer = replace(viewer, scope=narrowed(Scope(agent_ids=team_agents), team_agents))
        block.team = figures(rows_for(repo, team_viewer, since, until, tz, as_of, team_agents, queue, language),
                             wait_threshold_s)
    if per_agent:
        for agent_id, sel in rows.groupby("agent_id", sort=True):
            names = sel["agent_name"].dropna()
            block.agents.append({"agent_id": agent_id, "name": str(names.iloc[0]) if len(names) else "",
                                 **figures(sel, wait_threshold_s).as_dict()})
    if not per_call:
        return block
    keep = ["fcr_status", "talk_s", "hold_s", "after_call_gap_s", "unannounced_wait_max_s", "csat", "csat_estimate"]
    for rec in rows[["call_id", *keep]].to_dict("records"):
        block.calls[str(rec.pop("call_id"))] = {k: (None if v is None or (isinstance(v, float) and v != v) else v)
                                               for k, v in rec.items()}
    return block
