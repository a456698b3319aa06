"""A coaching report as HTML (Jinja2, inline SVG charts), PDF (WeasyPrint, DejaVu) or CSV (one row per call x item).

The HTML is self-contained (inline CSS and SVG); the PDF is that HTML, and WeasyPrint may fetch
nothing but local `file:` URLs, so a report never reaches the network.
"""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from qa.access.coaching import PeriodData
from qa.coaching import charts
from qa.coaching.labels import labels, number
from qa.coaching.report import CoachingReport
from qa.kpi.report import CSV_COLUMNS as KPI_CSV_COLUMNS, csv_values as kpi_csv_values

FORMATS = ("html", "pdf", "csv")
CSV_COLUMNS = ["call_id", "agent_id", "started_at", "rubric_id", "rubric_version", "section_id", "item_id",
               "item_title", "outcome", "auto_outcome", "evidence_text", "evidence_start_s", "reviewer",
               "review_comment"]


def _env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    return env


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


# the report's sections in order, one template partial each (templates/sections/<name>.html); a new section
# is a new partial and an entry here
SECTIONS = ["summary", "kpis", "trend", "agents", "sections", "items", "weakest", "profiles", "talk", "comments", "plan"]


def all_charts(report: CoachingReport) -> dict[str, str | None]:
    """Every chart of the report as inline SVG (the page shows the same ones)."""
    words = labels(report.language)
    return {"trend": charts.trend_svg(report, words), "items": charts.items_svg(report, words),
            "dist": charts.distribution_svg(report, report.scores, words),
            "sections": charts.sections_svg(report, words), "autofails": charts.autofails_svg(report, words)}


def html(report: CoachingReport, svgs: dict[str, str | None] | None = None) -> str:
    words = labels(report.language)
    env = _env()
    env.filters["num"] = lambda v, d=1: number(v, report.language, d)
    env.filters["clock"] = _clock
    env.filters["day"] = lambda v: "–" if v is None else f"{v:%Y-%m-%d}"
    env.filters["minute"] = lambda v: "–" if v is None else f"{v:%Y-%m-%d %H:%M}"
    return env.get_template("report.html").render(r=report, L=words, sections=SECTIONS,
                                                  charts=svgs if svgs is not None else all_charts(report))


def _svg_image(svg: str) -> str:
    """An inline SVG chart as an <img> with a data: URL (same drawing; WeasyPrint then styles and draws it as one
    image instead of cascading the page's CSS over each of its elements)."""
    if "xmlns=" not in svg[:svg.index(">")]:
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return f'<img alt="" src="data:image/svg+xml;base64,{base64.b64encode(svg.encode("utf-8")).decode("ascii")}">'


def pdf(report: CoachingReport, page_html: str | None = None) -> bytes:
    import logging

    from weasyprint import HTML, URLFetcher

    # WeasyPrint logs every SVG presentation property its CSS parser skips (the charts still render)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)

    if page_html is None:  # the charts as SVG images: WeasyPrint draws the same vectors ~0.6 s faster than inline
        page_html = html(report, {k: _svg_image(v) if v else v for k, v in all_charts(report).items()})
    # offline: local files and data: URLs only (the report embeds everything; nothing remote is ever fetched)
    return HTML(string=page_html, base_url=str(Path(__file__).parent),
                url_fetcher=URLFetcher(allowed_protocols=("file", "data"))).write_pdf()


def csv_text(report: CoachingReport, data: PeriodData) -> str:
    """One row per call x item: effective outcome, the automatic one, evidence, reviewer and comment."""
    titles = {r["id"]: r["title"] for r in report.items}
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS + KPI_CSV_COLUMNS)
    zone = ZoneInfo(report.timezone)
    started = {c: pd.Timestamp(t).tz_convert(zone) for c, t in zip(data.calls["call_id"], data.calls["started_at"])}
    for r in data.items.itertuples():
        def val(name):
            v = getattr(r, name, None)
            return "" if v is None or (isinstance(v, float) and v != v) else v
        out.writerow([r.call_id, val("agent_id"), f"{started[r.call_id]:%Y-%m-%dT%H:%M:%S%z}", r.rubric_id,
                      r.rubric_version, r.section_id, r.item_id, titles.get(r.item_id, r.item_id), r.outcome,
                      val("auto_outcome"), val("evidence_text"), val("evidence_start_s"), val("reviewer"),
                      val("review_comment"), *kpi_csv_values(report.kpis, r.call_id)])
    return buf.getvalue()


def write(report: CoachingReport, data: PeriodData, fmt: str, out: str | Path) -> Path:
    """Write the report in `fmt` to `out` (folders made); returns the path."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        path.write_text(html(report), encoding="utf-8")
    elif fmt == "pdf":
        path.write_bytes(pdf(report))
    else:
        path.write_text(csv_text(report, data), encoding="utf-8", newline="")
    return path
