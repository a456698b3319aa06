"""Sampling rules for the review queue, and the calls they pick (with the reasons, in plain words).

A rule set (pydantic, stored in the reviews file; the latest saved per team wins, a team without
its own uses the default) picks, among the scored calls of a period:

  sample             N random calls per agent per ISO week; "random" is md5(seed, call id), so
                     the same rules over the same calls pick the same calls on every run
  auto_fail          every call the AI auto-failed (a critical item failed), with the item's title
  roles_uncertain    every call whose agent/customer labelling is a guess (`calls.role_confidence`)
  sentiment_falling  every call whose customer's sentiment worsened (start vs end of the call)
  near_threshold     every call with an item decided within a margin of its check's threshold
                     (phrase and fuzzy checks: similarity 0-100; semantic checks: cosine 0-1)

Candidates come from one SQL query over the viewer's calls (bound parameters only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.access.effective import LATEST_CTE
from qa.access.model import Viewer
from qa.rubric.schema import FuzzyCheck, PhraseCheck, Rubric, SemanticCheck

REASON_CODES = ("sample", "auto_fail", "roles_uncertain", "sentiment_falling", "near_threshold")


class RulesError(ValueError):
    """Sampling rules that cannot be saved as given (the message names the field)."""


class SamplingRules(BaseModel):
    """Which calls go to the review queue (one set per team, or the default with `team` None)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str | None = None
    per_agent_week: int = Field(2, ge=0, le=100)
    seed: int = 12
    auto_fail: bool = True
    roles_uncertain_below: float | None = Field(0.6, ge=0, le=1)
    sentiment_falling: bool = True
    near_threshold: bool = True
    near_margin: float = Field(0.05, ge=0, le=0.5)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "SamplingRules":
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise RulesError(f"sampling rule {'.'.join(map(str, first['loc'])) or '?'}: {first['msg']}") from None


@dataclass
class Candidate:
    call_id: str
    agent_id: str | None
    queue: str | None
    reasons: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def add(self, code: str, text: str) -> None:
        if code not in self.codes:
            self.codes.append(code)
            self.reasons.append(text)


def thresholds(rubric: Rubric) -> list[tuple[str, float, float]]:
    """(item id, threshold, scale) of the items whose check compares a similarity with a threshold."""
    out = []
    for _, item in rubric.items():
        check = item.check
        if isinstance(check, (PhraseCheck, FuzzyCheck)):
            out.append((item.id, float(check.threshold), 100.0))
        elif isinstance(check, SemanticCheck):
            out.append((item.id, float(check.threshold), 1.0))
    return out


def period(since: date | None, until: date | None, latest: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) in UTC: default the 7 days up to the latest call (or today)."""
    end_day = until or (latest.astimezone(timezone.utc).date() if latest else datetime.now(timezone.utc).date())
    start_day = since or end_day - timedelta(days=6)
    return (datetime.combine(start_day, datetime.min.time(), timezone.utc),
            datetime.combine(end_day + timedelta(days=1), datetime.min.time(), timezone.utc))


def candidates(repo, viewer: Viewer, rules_for: dict[str | None, SamplingRules], team_of: dict[str, str],
               start: datetime, end: datetime) -> list[Candidate]:
    """Calls of the viewer's scope started in [start, end) that some rule picks, with every reason."""
    rules = list(rules_for.values())
    max_n = max(r.per_agent_week for r in rules)
    max_conf = max((r.roles_uncertain_below or 0.0) for r in rules)
    max_margin = max(r.near_margin for r in rules)
    seed = str(rules_for[None].seed)
    # thresholds of every rubric the period's scorings used
    keys = repo._frame(viewer, f""", {LATEST_CTE} SELECT DISTINCT l.rubric_id, l.rubric_version FROM latest l
        JOIN visible c ON c.call_id = l.call_id WHERE c.started_at >= ? AND c.started_at < ?""", [start, end],
                       ["rubric_id", "rubric_version"])
    t_rubric, t_item, t_value, t_scale = [], [], [], []
    for rid, ver in zip(keys["rubric_id"], keys["rubric_version"]):
        rubric = repo.rubric(str(rid), str(ver))
        for item_id, value, scale in thresholds(rubric) if rubric else []:
            t_rubric.append(f"{rid}|{ver}")
            t_item.append(item_id)
            t_value.append(value)
            t_scale.append(scale)
    df = repo._frame(viewer, f""", {LATEST_CTE},
        base AS (
            SELECT c.call_id, c.agent_id, coalesce(c.agent_name, c.agent_id) AS agent, c.queue, c.started_at,
                   c.role_confidence, l.rubric_id, l.rubric_version, l.auto_failed,
                   json_extract_string(c.sentiment_json, '$.customer_trajectory') AS trajectory,
                   TRY_CAST(json_extract(c.sentiment_json, '$.customer_start') AS DOUBLE) AS s_start,
                   TRY_CAST(json_extract(c.sentiment_json, '$.customer_end') AS DOUBLE) AS s_end,
                   strftime(c.started_at AT TIME ZONE 'UTC', '%G-W%V') AS week,
                   row_number() OVER (PARTITION BY coalesce(c.agent_id, c.agent_name),
                                      strftime(c.started_at AT TIME ZONE 'UTC', '%G-W%V')
                                      ORDER BY md5(? || '|' || c.call_id)) AS draw,
                   count(*) OVER (PARTITION BY coalesce(c.agent_id, c.agent_name),
                                  strftime(c.started_at AT TIME ZONE 'UTC', '%G-W%V')) AS week_calls
            FROM visible c JOIN latest l ON l.call_id = c.call_id
            WHERE c.status = 'ok' AND c.started_at >= ? AND c.started_at < ?),
        th AS (SELECT unnest(?::VARCHAR[]) AS rkey, unnest(?::VARCHAR[]) AS item_id, unnest(?::DOUBLE[]) AS threshold,
                      unnest(?::DOUBLE[]) AS scale),
        near AS (
            SELECT i.call_id, list(i.item_id || '=' || round(i.similarity, 3) || '/' || th.threshold ORDER BY i.item_id) AS near
            FROM item_results i JOIN base b ON b.call_id = i.call_id AND b.rubric_id = i.rubric_id
                 AND b.rubric_version = i.rubric_version
            JOIN th ON th.rkey = i.rubric_id || '|' || i.rubric_version AND th.item_id = i.item_id
            WHERE i.source = 'auto' AND i.similarity IS NOT NULL AND i.outcome IN ('pass', 'fail')
              AND abs(i.similarity - th.threshold) <= ? * th.scale
            GROUP BY i.call_id),
        crit AS (
            SELECT i.call_id, list(i.item_id ORDER BY i.item_id) AS failed_critical FROM item_results i
            JOIN base b ON b.call_id = i.call_id AND b.rubric_id = i.rubric_id AND b.rubric_version = i.rubric_version
            WHERE b.auto_failed AND i.source = 'auto' AND i.critical AND i.outcome = 'fail' GROUP BY i.call_id)
        SELECT b.*, n.near, k.failed_critical FROM base b LEFT JOIN near n ON n.call_id = b.call_id
        LEFT JOIN crit k ON k.call_id = b.call_id
        WHERE b.draw <= ? OR b.auto_failed OR b.role_confidence < ? OR b.trajectory = 'worsened' OR n.near IS NOT NULL
        ORDER BY b.started_at, b.call_id""",
        [seed, start, end, t_rubric, t_item, t_value, t_scale, max_margin, max_n, max_conf], [])
    out = []
    for r in df.to_dict("records"):
        agent_id = r["agent_id"] if isinstance(r["agent_id"], str) else None
        rule = rules_for.get(team_of.get(agent_id or ""), rules_for[None])
        cand = Candidate(str(r["call_id"]), agent_id, r["queue"] if isinstance(r["queue"], str) else None)
        titles = repo.item_titles(str(r["rubric_id"]), str(r["rubric_version"]))
        if r["draw"] <= rule.per_agent_week:
            draw_seed = str(rule.seed)
            if draw_seed == seed:  # a team seeded differently is drawn again below
                cand.add("sample", f"random sample ({int(r['draw'])} of {min(rule.per_agent_week, int(r['week_calls']))}"
                                   f" for {r['agent'] or 'the agent'}, week {r['week']})")
        if rule.auto_fail and bool(r["auto_failed"]):
            items = list(r["failed_critical"]) if r["failed_critical"] is not None else []
            names = ", ".join(titles.get(i, i) for i in items) or "a critical item"
            cand.add("auto_fail", f"AI auto-failed: {names}")
        conf = r["role_confidence"]
        if rule.roles_uncertain_below is not None and conf == conf and conf is not None and conf < rule.roles_uncertain_below:
            cand.add("roles_uncertain", f"roles uncertain (agent/customer {conf * 100:.0f} % sure)")
        if rule.sentiment_falling and r["trajectory"] == "worsened":
            s0, s1 = r["s_start"], r["s_end"]
            detail = f" ({s0:+.2f} → {s1:+.2f})" if s0 == s0 and s1 == s1 and s0 is not None and s1 is not None else ""
            cand.add("sentiment_falling", f"customer sentiment fell{detail}")
        if rule.near_threshold and r["near"] is not None:
            parts = []
            for entry in r["near"]:
                item_id, rest = entry.split("=", 1)
                sim, thr = (float(x) for x in rest.split("/"))
                scale = 100.0 if thr > 1 else 1.0
                if abs(sim - thr) <= rule.near_margin * scale:
                    parts.append(f"{titles.get(item_id, item_id)} ({sim:g} vs {thr:g})")
            if parts:
                cand.add("near_threshold", "decided near its threshold: " + "; ".join(parts))
        if cand.codes:
            out.append(cand)
    return out + _team_draws(repo, viewer, rules_for, team_of, seed, start, end, {c.call_id for c in out}, out)


def _team_draws(repo, viewer: Viewer, rules_for: dict[str | None, SamplingRules], team_of: dict[str, str], seed: str,
                start: datetime, end: datetime, seen: set[str], found: list[Candidate]) -> list[Candidate]:
    """The random sample of teams whose rules carry their own seed (drawn with that seed)."""
    extra: list[Candidate] = []
    by_id = {c.call_id: c for c in found}
    for team, rule in rules_for.items():
        if team is None or str(rule.seed) == seed or rule.per_agent_week == 0:
            continue
        agents = sorted(a for a, t in team_of.items() if t == team)
        if not agents:
            continue
        df = repo._frame(viewer, """
            SELECT call_id, agent_id, queue, agent, week, draw, week_calls FROM (
              SELECT c.call_id, c.agent_id, c.queue, coalesce(c.agent_name, c.agent_id) AS agent,
                     strftime(c.started_at AT TIME ZONE 'UTC', '%G-W%V') AS week,
                     row_number() OVER (PARTITION BY c.agent_id, strftime(c.started_at AT TIME ZONE 'UTC', '%G-W%V')
                                        ORDER BY md5(? || '|' || c.call_id)) AS draw,
                     count(*) OVER (PARTITION BY c.agent_id, strftime(c.started_at AT TIME ZONE 'UTC', '%G-W%V')) AS week_calls
              FROM visible c WHERE c.status = 'ok' AND c.started_at >= ? AND c.started_at < ?
                AND list_contains(?::VARCHAR[], c.agent_id)
                AND EXISTS (SELECT 1 FROM call_scores s WHERE s.call_id = c.call_id))
            WHERE draw <= ? ORDER BY call_id""", [str(rule.seed), start, end, agents, rule.per_agent_week], [])
        for r in df.to_dict("records"):
            cand = by_id.get(str(r["call_id"]))
            if cand is None:
                cand = Candidate(str(r["call_id"]), r["agent_id"], r["queue"] if isinstance(r["queue"], str) else None)
                by_id[cand.call_id] = cand
                extra.append(cand)
            cand.add("sample", f"random sample ({int(r['draw'])} of {min(rule.per_agent_week, int(r['week_calls']))}"
                               f" for {r['agent'] or 'the agent'}, week {r['week']})")
    return extra


def rules_json(rules: SamplingRules) -> str:
    return json.dumps(rules.model_dump(), sort_keys=True)
