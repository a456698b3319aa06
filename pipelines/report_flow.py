"""`callqa schedule-reports`: a Prefect deployment writing each team's and each agent's report for the past week.

Each run covers the last whole week (Monday to Sunday, UTC) before the day it runs, writes one
file per team (from `callqa users ... --team`) and per agent with calls that week, per format:

    <out>/<period>/team-<team>_<since>_<until>.pdf
    <out>/<period>/agent-<agent>_<since>_<until>.pdf

Each report is one Prefect task (a failing one fails alone, the others are written), each report
is audited (actor `scheduled-reports`), and the run is a row in the store's `runs` table, so it
shows in `callqa runs` beside the batch runs (runner `reports`, counts = reports).
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from pipelines import prefect_env

prefect_env.configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from pipelines.schedule import DeploymentInfo, _check, ensure_pool  # noqa: E402
from pipelines.prefect_env import PROJECT_ROOT  # noqa: E402

FLOW_NAME = "callqa-weekly-reports"
ENTRYPOINT = "pipelines/report_flow.py:weekly_reports_flow"


def last_week(today: date) -> tuple[date, date]:
    """Monday and Sunday of the last whole week before `today`."""
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=6)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "unnamed"


def report_path(out_dir: str | Path, kind: str, subject: str, since: date, until: date, fmt: str) -> Path:
    return Path(out_dir) / f"{since}_{until}" / f"{kind}-{_safe(subject)}_{since}_{until}.{fmt}"


def _scheduler():
    from qa.access.model import LOCAL_ADMIN

    return replace(LOCAL_ADMIN, identity="scheduled-reports", display_name="scheduled reports", auth="cli")


@task(name="coaching-report", retries=1, retry_delay_seconds=30, cache_policy=NO_CACHE)
def report_task(db: str, kind: str, subject: str, since: date, until: date, fmt: str, out: str) -> str:
    from qa.coaching.generate import generate

    done = generate(db, _scheduler(), fmt, out, since=since, until=until, **{kind: subject})
    return str(done.path)


@flow(name=FLOW_NAME)
def weekly_reports_flow(db: str = "callqa.duckdb", out_dir: str = "reports", formats: list[str] | None = None,
                        today: str | None = None) -> dict[str, int]:
    """Write last week's team and agent reports; returns counts (written, failed)."""
    from qa.access.coaching import agents_with_calls, all_teams
    from qa.access.repository import DuckDBRepository
    from qa.runs import RunCounts, start_run, update_run
    from qa.store import Store

    formats = formats or ["pdf"]
    from zoneinfo import ZoneInfo

    from qa.config import display_timezone

    # "last week" in the display time zone (the report's days are that zone's)
    since, until = last_week(date.fromisoformat(today) if today else datetime.now(ZoneInfo(display_timezone())).date())
    subjects = [("team", t) for t in all_teams(db)]
    subjects += [("agent", a) for a in agents_with_calls(DuckDBRepository(db), _scheduler(), since, until)]
    jobs = [(kind, s, fmt) for kind, s in subjects for fmt in formats]
    store, t0, counts = Store(db), time.monotonic(), RunCounts(total=len(jobs))
    run_id = start_run(store, len(jobs), {"kind": "coaching-reports", "runner": "reports", "workers": 1,
                                          "since": str(since), "until": str(until), "out_dir": str(out_dir),
                                          "formats": formats})
    for kind, subject, fmt in jobs:
        out = report_path(out_dir, kind, subject, since, until, fmt)
        state = report_task(db, kind, subject, since, until, fmt, str(out), return_state=True)
        counts.add("ok" if state.is_completed() else "failed")
        update_run(store, run_id, counts, time.monotonic() - t0)
    update_run(store, run_id, counts, time.monotonic() - t0, status="completed" if not counts.failed else "failed")
    return {"written": counts.ok, "failed": counts.failed}


def create_report_deployment(out_dir: str, cron: str, timezone: str = "UTC", name: str = "weekly",
                             pool: str = "callqa", db: str | None = None,
                             formats: list[str] | None = None) -> DeploymentInfo:
    """Create or update the deployment `callqa-weekly-reports/<name>` with a cron schedule in `timezone`."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    _check(str(out), cron, timezone)
    from prefect.schedules import Cron

    ensure_pool(pool)
    params = {"db": str(Path(db or "callqa.duckdb").resolve()), "out_dir": str(out), "formats": formats or ["pdf"]}
    remote = flow.from_source(source=str(PROJECT_ROOT), entrypoint=ENTRYPOINT)
    deployment_id = remote.deploy(
        name=name, work_pool_name=pool, schedules=[Cron(cron, timezone=timezone)], parameters=params,
        description=f"Last week's coaching reports (each team, each agent) from {params['db']} into {out}",
        tags=["callqa", "reports"], build=False, push=False, print_next_steps=False, ignore_warnings=True,
    )
    return DeploymentInfo(str(deployment_id), f"{FLOW_NAME}/{name}", cron, timezone, pool, params)
