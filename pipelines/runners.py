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


WORKER_MEMORY_GIB = 1.5  # the largest worker measured peaked at 1.3 GB (a 2 h mono call)


def available_memory_gib() -> float:
    import psutil

    return psutil.virtual_memory().total / 2**30


def default_workers(asr_threads: int, cores: int | None = None, memory_gib: float | None = None) -> int:
    """What the machine can run: cores // threads per worker, as many as its memory holds, at least 1."""
    by_cores = (cores or available_cores()) // max(1, asr_threads)
    by_memory = int((memory_gib if memory_gib is not None else available_memory_gib()) // WORKER_MEMORY_GIB)
    return max(1, min(by_cores, by_memory))


def plan_workers(settings: Any, workers: int | None = None) -> tuple[int, int]:
    """(workers, asr_threads per worker) for a run.

    With neither set, one single-threaded worker per core (as memory allows): on 2 cores two
    1-thread workers processed 1.79x the audio per hour of one 2-thread worker (`make bench`).
    Explicit workers without an explicit thread count share the cores between them; an
    explicit thread count alone gives cores // threads workers.
    """
    cores = available_cores()
    workers = workers or settings.workers
    threads = settings.asr_threads
    explicit_threads = "asr_threads" in settings.model_fields_set
    if workers is None:
        if not explicit_threads:
            threads = 1
        return default_workers(threads, cores), threads
    if not explicit_threads:
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
