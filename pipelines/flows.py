"""Prefect flows: the batch flow over recordings, one task per call.

Each call is one task (`process-call`) so a bad call fails alone, transient errors (the
store locked by another process for too long) are retried with backoff, and Prefect's UI
shows every call. The task wraps `qa.ingest.handle_file`, which is idempotent.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from pipelines import prefect_env

prefect_env.configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.futures import as_completed  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.ingest import FileOutcome, discover, handle_file  # noqa: E402
from qa.store import Store, StoreBusy  # noqa: E402


def _transient(task, task_run, state) -> bool:
    """Retry only errors that may pass: the store busy, or a file still being copied."""
    try:
        state.result()
    except (StoreBusy, TimeoutError, ConnectionError):
        return True
    except Exception:
        return False
    return False


def progress_line(out: FileOutcome, done: list[dict[str, Any]], total: int, elapsed: float) -> str:
    """One line per finished call: position, outcome, audio so far and an ETA (ids only, no content)."""
    audio = sum(o["duration_s"] for o in done)
    rate = elapsed / len(done)
    eta = rate * (total - len(done))
    what = {"ok": f"ok {out.score_pct:.1f}%" if out.score_pct is not None else "ok (unscored)",
            "skipped": "skipped (already stored)", "failed": f"FAILED at {out.stage}: {out.reason}"}[out.status]
    return (f"[{len(done)}/{total}] {out.call_id}: {what} | audio {audio / 60:.1f} min"
            f" | elapsed {elapsed:.0f} s | ETA {eta:.0f} s")


@task(name="process-call", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient, cache_policy=NO_CACHE)
def process_call_task(path: str, settings: dict[str, Any], force: bool = False) -> dict[str, Any]:
    cfg = Settings(**settings)
    return asdict(handle_file(path, cfg, Store(cfg.db), force=force))


@flow(name="callqa-batch", task_runner=ThreadPoolTaskRunner(max_workers=1))
def batch_flow(
    paths: list[str],
    settings: dict[str, Any],
    force: bool = False,
    patterns: list[str] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Process every recording under `paths` into the store named in `settings`."""
    cfg = Settings(**settings)
    Store(cfg.db).init()
    files = discover(paths, patterns)
    t0 = time.perf_counter()
    futures = [process_call_task.submit(str(f), cfg.model_dump(mode="json"), force) for f in files]
    outcomes: list[dict[str, Any]] = []
    for fut in as_completed(futures):
        out = fut.result()
        outcomes.append(out)
        if progress:
            print(progress_line(FileOutcome(**out), outcomes, len(files), time.perf_counter() - t0), flush=True)
    order = {str(f): i for i, f in enumerate(files)}
    return sorted(outcomes, key=lambda o: order.get(o["path"], 0))
