"""Coaching reads: one agent's or one team's calls in a period, with reviewed scores, for reports.

Everything goes through the `CallRepository` interface's coaching reads (`period_*`, over a
`Period`: agents, start and end instants, rubric, queue, language, time zone), so the scope
(`visible` = the viewer's calls) and the one place reviews are applied (`qa.access.effective`)
hold here too. Days are the `display_timezone` setting's. Who may ask for which report:

  agent      their own report only
  team_lead  the reports of the teams they lead and of those teams' agents
  reviewer   (every call) and admin: any report; a queue-limited reviewer none

An agent's report compares them with their team: the team's figures are aggregates (sums and
counts per week and per customer profile, outcome counts per item, metric means) read with a
scope of the team's agents; no teammate's call, quote or comment reaches the report. Each report covers one rubric (so Turkish and English items never mix):
the one asked for, else the one most of the subject's calls in the period were scored with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from qa.access.audit import AuditLog
from qa.access.directory import AccessFile, Directory
from qa.access.model import AccessDenied, Scope, Viewer
from qa.access.repository import CallRepository, Period
from qa.config import display_timezone

# call_metrics shown in the report, in this order
TALK_METRICS = ("talk_ratio_agent", "dead_air_total_s", "interruptions_by_agent", "agent_response_latency_mean_s",
                "agent_wpm")


@dataclass(frozen=True)
class Subject:
    """Whose report: `kind` agent (id = agent_id) or team (id = team_id), and the agents it covers."""

    kind: str
    id: str
    agents: tuple[str, ...]
    name: str = ""
    team_agents: tuple[str, ...] = ()  # the comparison group (an agent's teams; empty for a team report)


@dataclass
class PeriodData:
    """What a report is computed from: the subject's calls (one row each, effective scores), and aggregates
    counted in SQL with reviews applied (item outcomes, week and profile sums, metric means); item rows only
    for the few reviewed calls and the latest failures, unless every row is asked for (the CSV)."""

    subject: Subject
    since: date
    until: date
    rubric_id: str | None
    calls: pd.DataFrame  # one row per call (repository.PERIOD_CALL_COLUMNS without sections, `week`, `reviewed`)
    items: pd.DataFrame  # every call x item row, effective, with evidence, reviewer, review_comment (`rows=True`)
    item_counts: pd.DataFrame = field(default_factory=pd.DataFrame)  # agent_id, item_id, applicable, passed, ...
    week_sums: pd.DataFrame = field(default_factory=pd.DataFrame)  # key (week), measure, n, total (subject)
    profile_sums: pd.DataFrame = field(default_factory=pd.DataFrame)  # key (profile), measure, n, total (subject)
    profiles: pd.DataFrame = field(default_factory=pd.DataFrame)  # profile, calls, strategy
    metric_means: pd.DataFrame = field(default_factory=pd.DataFrame)  # name, mean (subject)
    reviewed_items: pd.DataFrame = field(default_factory=pd.DataFrame)  # item rows of reviewed calls (comments)
    fails: pd.DataFrame = field(default_factory=pd.DataFrame)  # the latest failing calls per item (moments)
    # the team line: aggregates only (no call, quote or comment of a teammate)
    team_week_sums: pd.DataFrame = field(default_factory=pd.DataFrame)  # key (week), measure, n, total
    team_profile_sums: pd.DataFrame = field(default_factory=pd.DataFrame)  # key (profile), measure, n, total
    team_item_counts: pd.DataFrame = field(default_factory=pd.DataFrame)  # item_id, applicable, passed, failed
    team_metric_means: pd.DataFrame = field(default_factory=pd.DataFrame)  # name, mean
    other_rubrics: dict[str, int] = field(default_factory=dict)  # rubric id -> calls left out of this report
    previous_week_sums: pd.DataFrame = field(default_factory=pd.DataFrame)  # the period of the same length before
    previous_item_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    tz: str = "UTC"  # the zone of the period's days and weeks
    filters: Filters | None = None


def team_members(db: str, team_id: str) -> tuple[str, ...]:
    rows = AccessFile(db).query("SELECT agent_id FROM team_agents WHERE team_id = ? ORDER BY 1", [team_id])
    return tuple(a for (a,) in rows)


def teams_of_agent(db: str, agent_id: str) -> tuple[str, ...]:
    rows = AccessFile(db).query("SELECT team_id FROM team_agents WHERE agent_id = ? ORDER BY 1", [agent_id])
    return tuple(t for (t,) in rows)


def all_teams(db: str) -> list[str]:
    return [t for (t,) in AccessFile(db).query("SELECT DISTINCT team_id FROM team_agents ORDER BY 1")]


def resolve_subject(db: str, viewer: Viewer, agent: str | None = None, team: str | None = None) -> Subject:
    """The subject of a report, or AccessDenied (audited) when the viewer may not have it."""
    def deny(reason: str) -> AccessDenied:
        AuditLog(db).record(viewer, "denied", target=f"report:{'agent' if agent else 'team'}:{agent or team}",
                            reason=reason)
        return AccessDenied(reason)

    if bool(agent) == bool(team):
        raise ValueError("give exactly one of an agent id or a team id")
    if agent:
        if not viewer.scope.everything and not viewer.scope.allows(agent, None):
            raise deny(f"{viewer.identity} ({viewer.role}) may not get the report of agent {agent}")
        mates = tuple(sorted({a for t in teams_of_agent(db, agent) for a in team_members(db, t)}))
        return Subject("agent", agent, (agent,), team_agents=mates)
    members = team_members(db, team)
    if viewer.role == "agent":
        raise deny(f"{viewer.identity} (agent) may only get their own report")
    if viewer.role == "team_lead":
        led = Directory(db).get(viewer.identity)
        if led is None or team not in led.teams:
            raise deny(f"{viewer.identity} does not lead team {team}")
    elif not viewer.scope.everything:
        raise deny(f"{viewer.identity} ({viewer.role}) may not get team reports")
    if not members:
        raise ValueError(f"team {team!r} has no agents (callqa users add ... --role agent --team {team})")
    return Subject("team", team, members, name=team)


def narrowed(scope: Scope, agents: tuple[str, ...]) -> Scope:
    """`scope` limited further to `agents` (never wider than `scope`)."""
    if scope.everything:
        return Scope(agent_ids=tuple(agents))
    ids = tuple(a for a in agents if scope.agent_ids is None or a in scope.agent_ids)
    return Scope(agent_ids=ids, queues=scope.queues)


def bounds(since: date, until: date, tz: str) -> tuple[datetime, datetime]:
    """[since 00:00, until+1 00:00) in the zone `tz`: report days are the display time zone's days."""
    zone = ZoneInfo(tz)
    return datetime.combine(since, time(), zone), datetime.combine(until + timedelta(days=1), time(), zone)


@dataclass(frozen=True)
class Filters:
    """What narrows a report beyond subject and period (None: everything)."""

    rubric_id: str | None = None
    queue: str | None = None
    language: str | None = None


def _period(agents: tuple[str, ...], since: date, until: date, tz: str, filters: Filters,
            rubric_id: str | None = None) -> Period:
    start, end = bounds(since, until, tz)
    return Period(tuple(agents), start, end, rubric_id or filters.rubric_id, filters.queue, filters.language, tz)


def period_data(repo: CallRepository, viewer: Viewer, subject: Subject, since: date, until: date,
                rubric_id: str | None = None, tz: str | None = None, filters: Filters = Filters(),
                rows: bool = False, moments: int = 2) -> PeriodData:
    """The subject's calls in [since, until] (days in `tz`, default `display_timezone`) under one rubric, their
    aggregates and the team's; every item row too with `rows` (the CSV), else only reviewed calls' rows and
    the latest `moments` failures per item. Every read goes through the repository's interface, in one
    store connection."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    tz = tz or display_timezone()
    filters = replace(filters, rubric_id=rubric_id or filters.rubric_id)
    mine = replace(viewer, scope=narrowed(viewer.scope, subject.agents))  # `visible` holds only these agents' calls
    with repo.snapshot():
        period = _period(subject.agents, since, until, tz, filters)
        calls = repo.period_calls(mine, period)
        counts = calls["rubric_id"].value_counts()
        chosen = filters.rubric_id or (str(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
                                       if len(counts) else None)
        other = {str(r): int(n) for r, n in counts.items() if r != chosen}
        calls = calls[calls["rubric_id"] == chosen].reset_index(drop=True)
        period = replace(period, rubric_id=chosen)
        reviewed = repo.period_items(mine, period, reviewed_only=True)
        data = PeriodData(subject, since, until, chosen, calls,
                          repo.period_items(mine, period) if rows else reviewed.iloc[0:0],
                          other_rubrics=other, tz=tz, filters=filters, reviewed_items=reviewed)
        if chosen is None:
            return data
        days = (until - since).days + 1  # what changed: the same agents' period of the same length before
        before = _period(subject.agents, since - timedelta(days=days), since - timedelta(days=1), tz, filters, chosen)
        parts = [("mine", mine, period), ("before", mine, before)]
        if subject.team_agents:
            # the team line: aggregates only (sums, counts, means), read with the team's scope; no text
            team_viewer = replace(viewer, scope=Scope(agent_ids=subject.team_agents))
            parts.append(("team", team_viewer, _period(subject.team_agents, since, until, tz, filters, chosen)))
        counts = repo.period_item_counts_many(parts, per_agent={"mine"})
        weeks = repo.period_score_sums_many(parts, "week")
        now = [p for p in parts if p[0] != "before"]
        profiles = repo.period_score_sums_many(now, "profile", sections=False)  # the report shows scores only
        means = repo.period_metric_means_many(now, TALK_METRICS)
        data.item_counts, data.previous_item_counts = counts["mine"], counts["before"]
        data.week_sums, data.previous_week_sums, data.profile_sums = weeks["mine"], weeks["before"], profiles["mine"]
        data.metric_means = means["mine"]
        data.profiles = repo.period_profiles(mine, period)
        data.fails = repo.period_fails(mine, period, moments, reviewed)
        if subject.team_agents:
            data.team_item_counts, data.team_week_sums = counts["team"], weeks["team"]
            data.team_profile_sums, data.team_metric_means = profiles["team"], means["team"]
    return data


def audit_report(db: str, viewer: Viewer, subject: Subject, since: date, until: date, fmt: str, out: str,
                 calls: int) -> None:
    """One audit row per report generated (ids and counts, no content)."""
    AuditLog(db).record(viewer, "report", target=f"{subject.kind}:{subject.id}", since=str(since), until=str(until),
                        format=fmt, out=str(out), calls=calls)


def agents_with_calls(repo: CallRepository, viewer: Viewer, since: date, until: date, tz: str | None = None) -> list[str]:
    """Agent ids of the viewer's processed calls in [since, until] (days in `tz`, default `display_timezone`)."""
    return repo.period_agents(viewer, *bounds(since, until, tz or display_timezone()))


def coachable_agents(repo: CallRepository, viewer: Viewer) -> pd.DataFrame:
    """agent_id, agent_name, last_call of the viewer's processed calls (one row per agent id)."""
    return repo.coachable_agents(viewer)
