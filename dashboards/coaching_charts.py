"""The coaching pages' charts as Vega-Lite specs (`st.vega_lite_chart`): the same series, colours and titles
as the report's matplotlib SVG charts (`qa.coaching.charts`), drawn in the browser.

Why not the report's SVGs on the pages: drawing the five matplotlib figures costs the server 0.3-0.5 s
per subject on an idle 2-core machine and 1-1.8 s under load, on every change of agent, team, period or
filter; a Vega-Lite spec costs milliseconds and the browser draws it. Vega-Lite ships inside
Streamlit's frontend bundle, so nothing is fetched from the network (tests/test_browser_coaching.py
checks every request). The report keeps matplotlib: a PDF needs a static picture.
"""

from __future__ import annotations

from typing import Any

from qa.coaching.charts import AGENT_COLOUR, TEAM_COLOUR
from qa.coaching.report import CoachingReport

Spec = dict[str, Any]


def _weeks(report: CoachingReport, title: str | None) -> Spec:
    """The week axis: Mondays as day.month labels in order (ordinal: no time zone conversion in the browser)."""
    return {"field": "week", "type": "ordinal", "title": title, "sort": [f"{w['week']:%d.%m}" for w in report.weeks],
            "axis": {"labelAngle": 0}}


def _series(report: CoachingReport, words: dict[str, str]) -> tuple[str, Spec]:
    """The subject's and the team's names and a colour scale for them."""
    me = report.subject_name or report.subject_id
    domain, colours = [me], [AGENT_COLOUR]
    if report.has_team:
        domain.append(words["team_avg"])
        colours.append(TEAM_COLOUR)
    return me, {"domain": domain, "range": colours}


def trend(report: CoachingReport, words: dict[str, str]) -> Spec | None:
    """Weekly mean score, the subject's line against the team's."""
    if not report.weeks:
        return None
    me, scale = _series(report, words)
    rows = [{"week": f"{w['week']:%d.%m}", "series": me, "score": w["avg"]} for w in report.weeks]
    if report.has_team:
        rows += [{"week": f"{w['week']:%d.%m}", "series": words["team_avg"], "score": w["team_avg"]}
                 for w in report.weeks]
    return {"title": words["chart_trend"], "data": {"values": rows}, "height": 300,
            "mark": {"type": "line", "point": True},
            "encoding": {"x": _weeks(report, words["week"]),
                         "y": {"field": "score", "type": "quantitative", "title": words["avg_score"],
                               "scale": {"domain": [0, 100]}},
                         "color": {"field": "series", "type": "nominal", "title": None, "scale": scale,
                                   "legend": {"orient": "bottom"}},
                         "strokeDash": {"field": "series", "type": "nominal", "legend": None},
                         "tooltip": [{"field": "series"}, {"field": "week"},
                                     {"field": "score", "format": ".1f"}]}}


def sections(report: CoachingReport, words: dict[str, str]) -> Spec | None:
    """Weekly mean score per section, one small chart per section, the subject against the team."""
    if not report.weeks or not report.sections:
        return None
    me, scale = _series(report, words)
    rows = []
    for w in report.weeks:
        for s in report.sections:
            rows.append({"week": f"{w['week']:%d.%m}", "section": s["title"], "series": me,
                         "score": w["sections"].get(s["id"])})
            if report.has_team:
                rows.append({"week": f"{w['week']:%d.%m}", "section": s["title"], "series": words["team_avg"],
                             "score": w["team_sections"].get(s["id"])})
    return {"title": words["chart_sections"], "data": {"values": rows},
            "facet": {"field": "section", "type": "nominal", "title": None,
                      "sort": [s["title"] for s in report.sections]},
            "columns": 2,
            "spec": {"width": 200, "height": 90, "mark": {"type": "line", "point": True},
                     "encoding": {"x": _weeks(report, None),
                                  "y": {"field": "score", "type": "quantitative", "title": None,
                                        "scale": {"domain": [0, 100]}},
                                  "color": {"field": "series", "type": "nominal", "title": None, "scale": scale,
                                            "legend": {"orient": "bottom"}},
                                  "strokeDash": {"field": "series", "type": "nominal", "legend": None},
                                  "tooltip": [{"field": "series"}, {"field": "week"},
                                              {"field": "score", "format": ".1f"}]}}}


def items(report: CoachingReport, words: dict[str, str]) -> Spec | None:
    """Pass rate per item (rubric order), the subject beside the team."""
    shown = [r for r in report.items if r["pass_rate"] is not None]
    if not shown:
        return None
    me, scale = _series(report, words)
    rows = [{"item": r["title"], "series": me, "rate": r["pass_rate"]} for r in shown]
    if report.has_team:
        rows += [{"item": r["title"], "series": words["team_avg"], "rate": r["team_pass_rate"]} for r in shown]
    return {"title": words["chart_items"], "data": {"values": rows}, "height": {"step": 9 if report.has_team else 16},
            "mark": "bar",
            "encoding": {"y": {"field": "item", "type": "nominal", "title": None, "sort": [r["title"] for r in shown]},
                         "yOffset": {"field": "series", "type": "nominal", "scale": {"domain": scale["domain"]}},
                         "x": {"field": "rate", "type": "quantitative", "title": "%", "scale": {"domain": [0, 100]}},
                         "color": {"field": "series", "type": "nominal", "title": None, "scale": scale,
                                   "legend": {"orient": "bottom"}},
                         "tooltip": [{"field": "item"}, {"field": "series"}, {"field": "rate", "format": ".1f"}]}}


def distribution(report: CoachingReport, words: dict[str, str]) -> Spec | None:
    """How many calls scored in each band of 10 points (100 in the last band), as the report's histogram."""
    if not report.scores:
        return None
    counts = [0] * 10
    for s in report.scores:
        counts[min(int(s // 10), 9)] += 1
    rows = [{"from": 10 * k, "to": 10 * k + 10, "calls": n} for k, n in enumerate(counts)]
    return {"title": words["chart_dist"], "data": {"values": rows}, "height": 250,
            "mark": {"type": "bar", "color": AGENT_COLOUR, "stroke": "white"},
            "encoding": {"x": {"field": "from", "type": "quantitative", "bin": {"binned": True, "step": 10},
                               "title": words["avg_score"], "scale": {"domain": [0, 100]}},
                         "x2": {"field": "to"},
                         "y": {"field": "calls", "type": "quantitative", "title": words["calls_axis"],
                               "axis": {"tickMinStep": 1}},
                         "tooltip": [{"field": "from"}, {"field": "to"}, {"field": "calls"}]}}


def autofails(report: CoachingReport, words: dict[str, str]) -> Spec | None:
    """Auto-failed calls per week (bars) and their share of the week's calls (line, right axis)."""
    if not report.weeks:
        return None
    rows = [{"week": f"{w['week']:%d.%m}", "auto_failed": w["auto_failed"],
             "share": 100.0 * w["auto_failed"] / w["calls"] if w["calls"] else None} for w in report.weeks]
    x = _weeks(report, words["week"])
    return {"title": words["chart_autofails"], "data": {"values": rows}, "height": 250,
            "layer": [{"mark": {"type": "bar", "color": "#b23b3b", "width": {"band": 0.6}},
                       "encoding": {"x": x, "y": {"field": "auto_failed", "type": "quantitative",
                                                  "title": words["calls_axis"], "axis": {"tickMinStep": 1}},
                                    "tooltip": [{"field": "week"}, {"field": "auto_failed"}]}},
                      {"mark": {"type": "line", "point": True, "color": "#444"},
                       "encoding": {"x": x, "y": {"field": "share", "type": "quantitative", "title": "%",
                                                  "axis": {"orient": "right"}},
                                    "tooltip": [{"field": "week"},
                                                {"field": "share", "format": ".1f"}]}}],
            "resolve": {"scale": {"y": "independent"}}}


def all_specs(report: CoachingReport, words: dict[str, str]) -> dict[str, Spec | None]:
    return {"trend": trend(report, words), "sections": sections(report, words), "items": items(report, words),
            "dist": distribution(report, words), "autofails": autofails(report, words)}
