"""One coaching report end to end: who may have it, its rows, its figures, the file, the audit row.

The CLI (`callqa report`), the scheduled flow (`callqa schedule-reports`) and the dashboard's
download button all call `generate`, so they produce the same report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from qa.access.coaching import Filters, PeriodData, Subject, audit_report, period_data, resolve_subject
from qa.access.model import Viewer
from qa.access.repository import DuckDBRepository
from qa.coaching import render
from qa.coaching.report import CoachingReport, build_report, rubric_versions
from qa.kpi.report import section as kpi_section
from qa.rubric.schema import Rubric, RubricError, find_rubric, load_rubric


@dataclass
class Generated:
    path: Path
    report: CoachingReport
    data: PeriodData


def _rubric(repo: DuckDBRepository, rubric_id: str | None, versions: list[str]) -> Rubric | None:
    """The rubric file at the newest version the calls used (titles and coaching texts), else the current file."""
    if not rubric_id:
        return None
    for version in sorted(versions, reverse=True):
        if (found := repo.rubric(rubric_id, version)) is not None:
            return found
    try:
        return load_rubric(find_rubric(rubric_id, repo.rubric_dir))
    except (RubricError, OSError):
        return None


def build(db: str | Path, viewer: Viewer, agent: str | None, team: str | None, since: date, until: date,
          rubric_id: str | None = None, rubric_dir: str | Path | None = None, tz: str | None = None,
          filters: Filters = Filters(), rows: bool = False) -> tuple[CoachingReport, PeriodData]:
    """The report's figures and rows (raises AccessDenied, audited, when the viewer may not have it); days in
    `tz` (default: the `display_timezone` setting), narrowed by `filters` (queue, language, rubric); every
    call x item row (and each call's KPI values) with `rows`, for the CSV."""
    subject = resolve_subject(str(db), viewer, agent, team)
    return build_for(db, viewer, subject, since, until, rubric_id, rubric_dir, tz, filters, rows)


def build_for(db: str | Path, viewer: Viewer, subject: Subject, since: date, until: date, rubric_id: str | None = None,
              rubric_dir: str | Path | None = None, tz: str | None = None,
              filters: Filters = Filters(), rows: bool = False) -> tuple[CoachingReport, PeriodData]:
    """`build` for a subject already resolved (and allowed) by `resolve_subject`: every read in one snapshot."""
    repo = DuckDBRepository(db, rubric_dir)
    with repo.snapshot():
        data = period_data(repo, viewer, subject, since, until, rubric_id, tz, filters, rows=rows)
        rubric = _rubric(repo, data.rubric_id, rubric_versions(data.calls))
        language = rubric.language if rubric else (str(data.calls["language"].mode().iloc[0]) if len(data.calls)
                                                   else "en")
        report = build_report(data, rubric, language)
        report.kpis = kpi_section(repo, viewer, data.subject, since, until, language, filters=data.filters,
                                  per_call=rows)
    return report, data


def generate(db: str | Path, viewer: Viewer, fmt: str, out: str | Path, agent: str | None = None,
             team: str | None = None, since: date | None = None, until: date | None = None,
             rubric_id: str | None = None, rubric_dir: str | Path | None = None, tz: str | None = None,
             filters: Filters = Filters()) -> Generated:
    """Write one report and audit it."""
    if since is None or until is None:
        raise ValueError("a report needs --since and --until")
    if fmt not in render.FORMATS:
        raise ValueError(f"format must be one of {', '.join(render.FORMATS)}, got {fmt!r}")
    report, data = build(db, viewer, agent, team, since, until, rubric_id, rubric_dir, tz, filters, rows=fmt == "csv")
    path = render.write(report, data, fmt, out)
    audit_report(str(db), viewer, data.subject, since, until, fmt, str(path), len(data.calls))
    return Generated(path, report, data)
