"""Which engine runs the per-call tasks: Prefect's thread or process pool, or Dask (prefect-dask).

Every runner gives each concurrent slot its own killable worker process (`pipelines.worker`),
so "threads" already processes calls in parallel processes; "processes" also moves the
task code out of the flow process; "dask" runs tasks on a Dask cluster: a `LocalCluster`
on this machine, or an existing scheduler (`dask_address`, e.g. `tcp://host:8786`) whose
workers may sit on other machines (they then need the code, the models and the inbox at
the same paths, and a store every machine can reach).
"""

from __future__ import annotations

import os
from typing import Any

RUNNERS = ("threads", "processes", "dask")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(asr_threads: int, cores: int | None = None) -> int:
    """What the machine can run: cores // threads per worker, at least 1."""
    return max(1, (cores or available_cores()) // max(1, asr_threads))


def plan_workers(settings: Any, workers: int | None = None) -> tuple[int, int]:
    """(workers, asr_threads per worker) for a run.

    Explicit workers without an explicit thread count share the cores between them (two
    1-thread processes beat one 2-thread process on faster-whisper).
    """
    cores = available_cores()
    workers = workers or settings.workers
    threads = settings.asr_threads
    if workers is None:
        return default_workers(threads, cores), threads
    if "asr_threads" not in settings.model_fields_set:
        threads = max(1, cores // workers)
    return workers, threads


def make_task_runner(kind: str, workers: int, dask_address: str | None = None):
    """A Prefect task runner of `kind` with `workers` concurrent calls."""
    if kind == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        # one single-threaded worker process per slot; the dashboard port is not needed
        return DaskTaskRunner(cluster_kwargs={
            "n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
        })
    raise ValueError(f"unknown runner {kind!r}; choose one of {', '.join(RUNNERS)}")
