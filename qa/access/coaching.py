"""Coaching reads: one agent's or one team's calls in a period, with reviewed scores, for reports.

Everything goes through `DuckDBRepository`'s one query path (`visible` = the viewer's calls) and
the one place reviews are applied (`qa.access.effective`). Who may ask for which report:

  agent      their own report only
  team_lead  the reports of the teams they lead and of those teams' agents
  reviewer   (every call) and admin: any report; a queue-limited reviewer none

An agent's report compares them with their team: the team's figures are aggregates (means,
pass rates) read with a scope of the team's agents; no teammate's call, quote or comment
reaches the report. Each report covers one rubric (so Turkish and English items never mix):
the one asked for, else the one most of the subject's calls in the period were scored with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pandas as pd

from qa.access.audit import AuditLog
from qa.access.directory import AccessFile, Directory
from qa.access.effective import ITEM_RESULT_FIELDS, LATEST_CTE, Key, overlay_items, to_results
from qa.access.model import AccessDenied, Scope, Viewer
from qa.access.repository import ITEM_COLUMNS, DuckDBRepository, _json_dict

# call_metrics shown in the report, in this order
TALK_METRICS = ("talk_ratio_agent", "dead_air_total_s", "interruptions_by_agent", "agent_response_latency_mean_s",
                "agent_wpm")
_CALL_COLS = ["call_id", "agent_id", "agent_name", "started_at", "queue", "language", "rubric_id", "rubric_version",
              "score_pct", "auto_failed", "sections_json"]


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
    """The rows a report is computed from (effective outcomes and scores)."""

    subject: Subject
    since: date
    until: date
    rubric_id: str | None
    calls: pd.DataFrame  # one row per call: _CALL_COLS minus sections_json, plus `sections` (dict)
    items: pd.DataFrame  # one row per call x item, with evidence, reviewer, review_comment
    metrics: pd.DataFrame  # call_id, name, value
    profiles: pd.DataFrame  # call_id, profile
    team_calls: pd.DataFrame = field(default_factory=pd.DataFrame)  # aggregates only: no text columns
    team_item_counts: pd.DataFrame = field(default_factory=pd.DataFrame)  # item_id, applicable, passed, failed
    team_metric_means: pd.DataFrame = field(default_factory=pd.DataFrame)  # name, mean
    team_profiles: pd.DataFrame = field(default_factory=pd.DataFrame)
    other_rubrics: dict[str, int] = field(default_factory=dict)  # rubric id -> calls left out of this report
    previous_calls: pd.DataFrame = field(default_factory=pd.DataFrame)  # the period of the same length before
    previous_item_counts: pd.DataFrame = field(default_factory=pd.DataFrame)


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


def _bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """[since 00:00, until+1 00:00) in UTC."""
    return (datetime.combine(since, time(), timezone.utc), datetime.combine(until + timedelta(days=1), time(), timezone.utc))


def _where(agents: tuple[str, ...], since: date, until: date, rubric_id: str | None) -> tuple[str, list[Any]]:
    """The period's processed calls of `agents` (over `visible c` and `latest l`), under one rubric if given."""
    start, end = _bounds(since, until)
    where = "c.status = 'ok' AND list_contains(?::VARCHAR[], c.agent_id) AND c.started_at >= ? AND c.started_at < ?"
    params: list[Any] = [list(agents), start, end]
    if rubric_id is not None:
        where += " AND l.rubric_id = ?"
        params.append(rubric_id)
    return where, params


def _calls(repo: DuckDBRepository, viewer: Viewer, where: str, params: list[Any]) -> pd.DataFrame:
    """One row per call: latest scoring, with the reviewed score, sections and auto-fail where reviewed."""
    calls = repo._frame(viewer, f""", {LATEST_CTE}
        SELECT c.call_id, c.agent_id, c.agent_name, c.started_at, c.queue, c.language, l.rubric_id, l.rubric_version,
               l.score_pct, l.auto_failed, l.sections_json
        FROM visible c JOIN latest l ON l.call_id = c.call_id WHERE {where} ORDER BY c.started_at, c.call_id""",
                        params, _CALL_COLS)
    keys: list[Key] = [(str(c), str(r), str(v)) for c, r, v in
                       zip(calls["call_id"], calls["rubric_id"], calls["rubric_version"])]
    overlay = repo._overlay(keys)
    calls = calls.astype({"score_pct": object, "auto_failed": object})
    calls["sections"] = [_json_dict(s) for s in calls["sections_json"]]
    calls["reviewed"] = False
    reviewed = [k for k in keys if overlay.covers(k)]
    if reviewed:
        auto = to_results(repo._auto_items(viewer, reviewed))
        for i, key in zip(calls.index, keys):
            score = overlay.score(key, auto.get(key, [])) if key in overlay.reviews else None
            if score is not None:
                calls.at[i, "score_pct"], calls.at[i, "auto_failed"] = score.score_pct, score.auto_failed
                calls.at[i, "sections"], calls.at[i, "reviewed"] = dict(score.sections), True
    return calls.drop(columns=["sections_json"])


def _profiles(repo: DuckDBRepository, viewer: Viewer, where: str, params: list[Any]) -> pd.DataFrame:
    return repo._frame(viewer, f""", {LATEST_CTE}
        SELECT p.call_id, p.profile FROM call_profiles p JOIN visible c ON c.call_id = p.call_id
        JOIN latest l ON l.call_id = c.call_id WHERE {where}""", params, ["call_id", "profile"])


def _period(repo: DuckDBRepository, viewer: Viewer, agents: tuple[str, ...], since: date, until: date,
            rubric_id: str | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Calls (effective score and sections), items (effective outcome), metrics and profiles of the agents."""
    viewer = replace(viewer, scope=narrowed(viewer.scope, agents))  # `visible` holds only these agents' calls
    where, params = _where(agents, since, until, rubric_id)
    calls = _calls(repo, viewer, where, params)
    cols = ", ".join("i." + c for c in ITEM_COLUMNS[:-2])
    items = repo._frame(viewer, f""", {LATEST_CTE}
        SELECT {cols}, c.agent_id FROM item_results i JOIN visible c ON c.call_id = i.call_id
        JOIN latest l ON l.call_id = i.call_id AND l.rubric_id = i.rubric_id AND l.rubric_version = i.rubric_version
        WHERE i.source = 'auto' AND {where} ORDER BY c.started_at, i.call_id""", params, [*ITEM_COLUMNS[:-2], "agent_id"])
    keys: list[Key] = [(str(c), str(r), str(v)) for c, r, v in
                       zip(calls["call_id"], calls["rubric_id"], calls["rubric_version"])]
    items = overlay_items(items, repo._overlay(keys))
    metrics = repo._frame(viewer, f""", {LATEST_CTE}
        SELECT m.call_id, m.name, m.value FROM call_metrics m JOIN visible c ON c.call_id = m.call_id
        JOIN latest l ON l.call_id = c.call_id WHERE list_contains(?::VARCHAR[], m.name) AND {where}""",
                          [list(TALK_METRICS), *params], ["call_id", "name", "value"])
    return calls, items, metrics, _profiles(repo, viewer, where, params)


def _team(repo: DuckDBRepository, viewer: Viewer, agents: tuple[str, ...], since: date, until: date,
          rubric_id: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The comparison group's aggregates: calls (scores only), outcome counts per item, metric means, profiles."""
    viewer = replace(viewer, scope=narrowed(Scope(agent_ids=agents), agents))
    where, params = _where(agents, since, until, rubric_id)
    calls = _calls(repo, viewer, where, params).drop(columns=["agent_name"])
    counts = repo._outcome_counts(viewer, ["i.item_id"], "", f"AND {where.replace('l.rubric_id', 'i.rubric_id')}",
                                  params)
    metrics = repo._frame(viewer, f""", {LATEST_CTE}
        SELECT m.name, fsum(m.value) / count(m.value) AS mean FROM call_metrics m JOIN visible c ON c.call_id = m.call_id
        JOIN latest l ON l.call_id = c.call_id WHERE list_contains(?::VARCHAR[], m.name) AND {where} GROUP BY m.name""",
                          [list(TALK_METRICS), *params], ["name", "mean"])
    return calls, counts, metrics, _profiles(repo, viewer, where, params)


def _previous(repo: DuckDBRepository, viewer: Viewer, agents: tuple[str, ...], since: date, until: date,
              rubric_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    viewer = replace(viewer, scope=narrowed(viewer.scope, agents))
    where, params = _where(agents, since, until, rubric_id)
    counts = repo._outcome_counts(viewer, ["i.item_id"], "", f"AND {where.replace('l.rubric_id', 'i.rubric_id')}",
                                  params)
    return _calls(repo, viewer, where, params), counts


def period_data(repo: DuckDBRepository, viewer: Viewer, subject: Subject, since: date, until: date,
                rubric_id: str | None = None) -> PeriodData:
    """The subject's rows in [since, until] (dates in UTC) under one rubric, and the team's aggregates."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    calls, items, metrics, profiles = _period(repo, viewer, subject.agents, since, until, None)
    counts = calls["rubric_id"].value_counts()
    chosen = rubric_id or (str(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]) if len(counts) else None)
    keep = calls["rubric_id"] == chosen
    other = {str(r): int(n) for r, n in counts.items() if r != chosen}
    calls = calls[keep].reset_index(drop=True)
    ids = set(calls["call_id"])
    items = items[items["call_id"].isin(ids)].reset_index(drop=True)
    metrics = metrics[metrics["call_id"].isin(ids)].reset_index(drop=True)
    profiles = profiles[profiles["call_id"].isin(ids)].reset_index(drop=True)
    data = PeriodData(subject, since, until, chosen, calls, items, metrics, profiles, other_rubrics=other)
    if chosen is not None:  # what changed: the subject's scores and item counts in the period before
        days = (until - since).days + 1
        data.previous_calls, data.previous_item_counts = _previous(
            repo, viewer, subject.agents, since - timedelta(days=days), since - timedelta(days=1), chosen)
    if subject.team_agents and chosen is not None:
        # the team line: aggregates only (scores, counts, means), read with the team's scope; no text
        data.team_calls, data.team_item_counts, data.team_metric_means, data.team_profiles = _team(
            repo, viewer, subject.team_agents, since, until, chosen)
    return data


def audit_report(db: str, viewer: Viewer, subject: Subject, since: date, until: date, fmt: str, out: str,
                 calls: int) -> None:
    """One audit row per report generated (ids and counts, no content)."""
    AuditLog(db).record(viewer, "report", target=f"{subject.kind}:{subject.id}", since=str(since), until=str(until),
                        format=fmt, out=str(out), calls=calls)


def agents_with_calls(repo: DuckDBRepository, viewer: Viewer, since: date, until: date) -> list[str]:
    """Agent ids of the viewer's processed calls in [since, until] (UTC days)."""
    start, end = _bounds(since, until)
    df = repo._frame(viewer, """SELECT DISTINCT c.agent_id FROM visible c WHERE c.status = 'ok'
        AND c.agent_id IS NOT NULL AND c.started_at >= ? AND c.started_at < ? ORDER BY 1""", [start, end], ["agent_id"])
    return [str(a) for a in df["agent_id"]]


def coachable_agents(repo: DuckDBRepository, viewer: Viewer) -> pd.DataFrame:
    """agent_id, agent_name, last_call of the viewer's processed calls (one row per agent id)."""
    return repo._frame(viewer, """SELECT c.agent_id, any_value(c.agent_name) AS agent_name, max(c.started_at) AS last_call
        FROM visible c WHERE c.status = 'ok' AND c.agent_id IS NOT NULL AND c.agent_id <> ''
        GROUP BY c.agent_id ORDER BY c.agent_id""", None, ["agent_id", "agent_name", "last_call"])
