"""A coaching report's figures, computed from the rows of `qa.access.coaching.period_data`.

Means are over calls with a score; pass rates are passed / applicable (pass or fail) items;
days and weeks (Monday to Sunday) are the display time zone's (`PeriodData.tz`). The team line
comes from aggregates (sums and counts per week and per profile, counted in SQL). Values stay
unrounded here; the renderers format them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
from typing import Any

import pandas as pd

from qa.access.coaching import TALK_METRICS, PeriodData
from qa.rubric.schema import Rubric
from qa.stats import exact_mean, true_count

WEAKEST = 3
MOMENTS_PER_ITEM = 2


@dataclass
class CoachingReport:
    kind: str  # agent | team
    subject_id: str
    subject_name: str
    since: date
    until: date
    language: str
    rubric_id: str | None
    rubric_title: str
    rubric_versions: list[str]
    generated_at: datetime
    summary: dict[str, Any]
    weeks: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    weakest: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    other_rubrics: dict[str, int] = field(default_factory=dict)
    has_team: bool = False
    scores: list[float] = field(default_factory=list)  # each call's score (the distribution chart)
    timezone: str = "UTC"  # the zone of the period's days, the weeks and every time shown
    filters: dict[str, str] = field(default_factory=dict)  # queue / language when the report was narrowed to one
    kpis: dict[str, Any] | None = None  # contact-centre KPIs (qa.kpi.report.section), set by generate.build


def _counted_rate(counts: pd.DataFrame) -> float | None:
    """Pass rate from outcome counts (the team's, counted in SQL with reviews applied)."""
    applicable, passed = int(counts["applicable"].sum()), int(counts["passed"].sum())
    return 100.0 * passed / applicable if applicable else None


class _Sums:
    """`period_score_sums` rows indexed once: (n, mean) of a measure over one key or over every key."""

    def __init__(self, sums: pd.DataFrame):
        self.parts: dict[tuple[str, Any], list[tuple[int, float]]] = {}
        if not sums.empty:
            for measure, key, n, total in zip(sums["measure"], sums["key"], sums["n"], sums["total"]):
                for k in ((measure, key), (measure, None)):
                    self.parts.setdefault(k, []).append((int(n), float(total)))

    def __call__(self, measure: str, key: Any = None) -> tuple[int, float | None]:
        parts = self.parts.get((measure, key), [])
        n = sum(p[0] for p in parts)
        return n, (math.fsum(p[1] for p in parts) / n if n else None)

    def total(self, measure: str) -> float:
        return math.fsum(p[1] for p in self.parts.get((measure, None), []))


def _local(ts, tz: str) -> datetime | None:
    """A stored instant in the report's zone."""
    if ts is None or ts != ts:
        return None
    t = pd.Timestamp(ts)
    return (t.tz_localize("UTC") if t.tzinfo is None else t).tz_convert(ZoneInfo(tz)).to_pydatetime()


def rubric_versions(calls: pd.DataFrame) -> list[str]:
    """The rubric versions the calls were scored with, sorted."""
    return sorted({str(v) for v in calls["rubric_version"].dropna().unique()})


def build_report(data: PeriodData, rubric: Rubric | None, language: str) -> CoachingReport:
    """Every figure of the report; `rubric` gives titles, sections and coaching texts (None: ids only)."""
    calls, counts, team_counts = data.calls, data.item_counts, data.team_item_counts
    has_team = bool(data.subject.team_agents) and not data.team_week_sums.empty
    team_weeks, team_profiles = _Sums(data.team_week_sums), _Sums(data.team_profile_sums)
    weeks_sums, prev_weeks, profile_sums = _Sums(data.week_sums), _Sums(data.previous_week_sums), _Sums(data.profile_sums)
    if counts.empty:
        counts = pd.DataFrame(columns=["agent_id", "section_id", "item_id", "applicable", "passed", "failed", "na"])
    sections_meta = [(s.id, s.title) for s in rubric.sections] if rubric else sorted(
        {(s, s) for s in counts["section_id"].dropna()})
    item_meta = {i.id: (s.id, s.title, i.title, i.coaching) for s, i in rubric.items()} if rubric else {}

    def item_title(item_id: str) -> str:
        return item_meta.get(item_id, (None, None, item_id, ""))[2]

    names = calls.dropna(subset=["agent_name"]).drop_duplicates("agent_id").set_index("agent_id")["agent_name"]
    subject_name = data.subject.name or (str(names.get(data.subject.id)) if data.subject.id in names else "")

    pass_rate = _counted_rate(counts)
    summary = {
        "calls": len(calls), "avg_score": exact_mean(calls["score_pct"]), "auto_failed": true_count(calls["auto_failed"]),
        "reviewed": true_count(calls["reviewed"]), "pass_rate": pass_rate,
        "team_calls": team_weeks("auto_failed")[0] if has_team else None,
        "team_avg": team_weeks("score")[1] if has_team else None,
        "team_pass_rate": _counted_rate(team_counts) if has_team else None,
        "prev_since": data.since - (data.until - data.since) - timedelta(days=1),
        "prev_until": data.since - timedelta(days=1), "prev_calls": prev_weeks("auto_failed")[0],
        "prev_avg": prev_weeks("score")[1],
        "prev_pass_rate": _counted_rate(data.previous_item_counts) if len(data.previous_item_counts) else None,
        "prev_auto_failed": int(prev_weeks.total("auto_failed")),
    }

    weeks = []
    for wk, sel in calls.groupby("week", sort=True):
        weeks.append({"week": wk, "calls": len(sel), "avg": exact_mean(sel["score_pct"]),
                      "auto_failed": true_count(sel["auto_failed"]),
                      "team_avg": team_weeks("score", wk)[1] if has_team else None,
                      "sections": {sid: weeks_sums(f"section:{sid}", wk)[1] for sid, _ in sections_meta},
                      "team_sections": {sid: team_weeks(f"section:{sid}", wk)[1] for sid, _ in sections_meta}
                      if has_team else {}})

    sections = []
    for sid, title in sections_meta:
        mine = weeks_sums(f"section:{sid}")[1]
        team = team_weeks(f"section:{sid}")[1] if has_team else None
        if mine is not None or team is not None:
            sections.append({"id": sid, "title": title, "avg": mine, "team_avg": team})

    order = {iid: n for n, iid in enumerate(item_meta)}
    prev_counts = data.previous_item_counts
    rows = []
    for iid, sel in counts.groupby("item_id", sort=False):
        a, p, f = (int(sel[c].sum()) for c in ("applicable", "passed", "failed"))
        team_rate = _counted_rate(team_counts[team_counts["item_id"] == iid]) if has_team else None
        sec_id = item_meta.get(iid, (sel["section_id"].iloc[0],))[0]
        sec_title = dict(sections_meta).get(sec_id, sec_id)
        rows.append({"id": iid, "title": item_title(iid), "section": sec_title, "applicable": a, "passed": p,
                     "failed": f, "pass_rate": 100.0 * p / a if a else None, "team_pass_rate": team_rate,
                     "prev_pass_rate": _counted_rate(prev_counts[prev_counts["item_id"] == iid])
                     if len(prev_counts) else None,
                     "coaching": item_meta.get(iid, ("", "", "", ""))[3]})
    rows.sort(key=lambda r: (order.get(r["id"], len(order)), r["id"]))

    weak = sorted([r for r in rows if r["failed"] > 0], key=lambda r: (r["pass_rate"], -r["failed"], r["title"]))[:WEAKEST]
    utc_started = calls.drop_duplicates("call_id").set_index("call_id")["started_at"]
    started = lambda call_id: _local(utc_started.get(call_id), data.tz)  # noqa: E731  (only the calls shown)
    weakest = []
    for r in weak:
        fails = data.fails[data.fails["item_id"] == r["id"]].head(MOMENTS_PER_ITEM) if len(data.fails) else data.fails
        moments = [{"call_id": m.call_id, "started_at": started(m.call_id),
                    "at_s": None if m.evidence_start_s is None or m.evidence_start_s != m.evidence_start_s
                    else float(m.evidence_start_s),
                    "quote": m.evidence_text if isinstance(m.evidence_text, str) and m.evidence_text else None}
                   for m in fails.itertuples()]
        weakest.append({**r, "moments": moments})

    profiles = []
    for p in data.profiles.itertuples():
        profiles.append({"profile": p.profile, "calls": int(p.calls), "avg": profile_sums("score", p.profile)[1],
                         "team_avg": team_profiles("score", p.profile)[1] if has_team else None,
                         "strategy": p.strategy if isinstance(p.strategy, str) else ""})
    profiles.sort(key=lambda p: (-p["calls"], p["profile"]))

    metrics = []
    for name in TALK_METRICS:
        mine = exact_mean(data.metric_means[data.metric_means["name"] == name]["mean"]) if len(data.metric_means) else None
        team = exact_mean(data.team_metric_means[data.team_metric_means["name"] == name]["mean"]) if has_team else None
        if mine is not None:
            metrics.append({"name": name, "avg": mine, "team_avg": team})

    agents = []
    if data.subject.kind == "team":
        by_agent = dict(tuple(counts.groupby("agent_id")))
        for agent_id, sel in calls.groupby("agent_id"):
            agents.append({"agent_id": agent_id, "name": names.get(agent_id, ""), "calls": len(sel),
                           "avg": exact_mean(sel["score_pct"]), "auto_failed": true_count(sel["auto_failed"]),
                           "pass_rate": _counted_rate(by_agent[agent_id]) if agent_id in by_agent else None})
        agents.sort(key=lambda a: (a["avg"] is None, a["avg"] or 0.0, a["agent_id"]))

    comments = []
    reviewed_items = data.reviewed_items
    commented = reviewed_items[reviewed_items["review_comment"].notna()] if len(reviewed_items) else reviewed_items
    reviewed = commented[commented["review_comment"].map(lambda c: isinstance(c, str) and bool(c.strip()))]
    for c in reviewed.itertuples():
        comments.append({"call_id": c.call_id, "started_at": started(c.call_id), "item": item_title(c.item_id),
                         "reviewer": c.reviewer, "outcome": c.outcome, "auto_outcome": c.auto_outcome,
                         "comment": c.review_comment})

    return CoachingReport(
        data.subject.kind, data.subject.id, subject_name, data.since, data.until, language, data.rubric_id,
        rubric.title if rubric else (data.rubric_id or ""), rubric_versions(calls),
        datetime.now(ZoneInfo(data.tz)), summary, weeks, sections, rows, weakest, profiles, metrics, agents, comments,
        data.other_rubrics, has_team, [float(v) for v in pd.to_numeric(calls["score_pct"], errors="coerce").dropna()],
        data.tz, {k: v for k, v in (("queue", getattr(data.filters, "queue", None)),
                                    ("language", getattr(data.filters, "language", None))) if v})
