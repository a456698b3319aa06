"""Retention as a Prefect flow: delete (or anonymise) calls older than `retention_days`, on a schedule.

    callqa retention [--days N] [--action delete|anonymise] [--dry-run]     # one run now
    prefect deploy --all   (deployment `callqa-retention/daily` in prefect.yaml, 03:30 Europe/Istanbul)

The flow writes to the store like the nightly batch (short connections with lock retry), so run it
after the batch, in the same work pool. Each call deleted or anonymised is one audit row (actor
`retention`); the summary carries counts only, never content.
"""

from __future__ import annotations

from dataclasses import replace

from pipelines import prefect_env

prefect_env.configure()

from prefect import flow, task  # noqa: E402


@task(name="apply-retention", retries=2, retry_delay_seconds=[30, 120])
def retention_task(db: str, days: int, action: str) -> str:
    from qa.access.erase import apply_retention, summary
    from qa.access.model import LOCAL_ADMIN

    actor = replace(LOCAL_ADMIN, identity="retention", display_name="retention flow", auth="cli")
    return summary(apply_retention(db, actor, days, action))


@flow(name="callqa-retention")
def retention_flow(db: str = "callqa.duckdb", days: int | None = None, action: str | None = None) -> str:
    """Delete or anonymise every call older than `days` (default: the `retention_days` setting)."""
    from qa.config import load_settings

    settings = load_settings()
    days = days or settings.retention_days
    if not days:
        raise ValueError("retention_days is not set: nothing to do (set it in callqa.toml)")
    return retention_task(db, int(days), action or settings.retention_action)
