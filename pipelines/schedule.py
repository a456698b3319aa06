"""`callqa schedule`: a Prefect deployment that runs the nightly inbox flow on a cron schedule.

The deployment lives on a real Prefect server (`PREFECT_API_URL`); a worker polling the
process work pool (`prefect worker start --pool callqa`) starts each run as a subprocess
in this checkout. The same deployment is declared in `prefect.yaml` for `prefect deploy`.
Calling it again with the same name updates the deployment (schedule, parameters).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.prefect_env import PROJECT_ROOT

FLOW_NAME = "callqa-nightly"
ENTRYPOINT = "pipelines/flows.py:nightly_flow"


class ScheduleError(ValueError):
    """The schedule cannot be created; the message says what to fix."""


@dataclass(frozen=True)
class DeploymentInfo:
    deployment_id: str
    full_name: str  # "<flow>/<deployment>", what `prefect deployment run` takes
    cron: str
    timezone: str
    pool: str
    parameters: dict


def _check(inbox: str, cron: str, timezone: str) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    if not os.environ.get("PREFECT_API_URL"):
        raise ScheduleError("PREFECT_API_URL is not set: start a Prefect server (`prefect server start`) and "
                            "export PREFECT_API_URL=http://HOST:4200/api, so the schedule outlives this command")
    if not Path(inbox).is_dir():
        raise ScheduleError(f"inbox {inbox} is not a folder")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {timezone!r} (use an IANA name such as Europe/Istanbul)") from None
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValueError:
        raise ScheduleError(f"{cron!r} is not a valid cron expression (e.g. \"0 2 * * *\" for 02:00 daily)") from None


def ensure_pool(name: str) -> None:
    """Create a `process` work pool called `name` unless it exists."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def create_deployment(
    inbox: str,
    cron: str,
    timezone: str = "UTC",
    name: str = "nightly",
    pool: str = "callqa",
    db: str | None = None,
    config: str | None = None,
    patterns: list[str] | None = None,
    runner: str | None = None,
    workers: int | None = None,
    quarantine_dir: str | None = None,
) -> DeploymentInfo:
    """Create or update the deployment `callqa-nightly/<name>` with a cron schedule in `timezone`."""
    _check(inbox, cron, timezone)
    from prefect import flow
    from prefect.schedules import Cron

    ensure_pool(pool)
    params = {
        "inbox": str(Path(inbox).resolve()),
        "db": str(Path(db or "callqa.duckdb").resolve()),
        "config": str(Path(config).resolve()) if config else None,
        "patterns": patterns,
        "runner": runner,
        "workers": workers,
        "quarantine_dir": str(Path(quarantine_dir).resolve()) if quarantine_dir else None,
    }
    params = {k: v for k, v in params.items() if v is not None}
    remote = flow.from_source(source=str(PROJECT_ROOT), entrypoint=ENTRYPOINT)
    deployment_id = remote.deploy(
        name=name,
        work_pool_name=pool,
        schedules=[Cron(cron, timezone=timezone)],
        parameters=params,
        description=f"Process new recordings under {params['inbox']} into {params['db']}",
        tags=["callqa"],
        build=False,
        push=False,
        print_next_steps=False,
        ignore_warnings=True,
    )
    return DeploymentInfo(str(deployment_id), f"{FLOW_NAME}/{name}", cron, timezone, pool, params)
