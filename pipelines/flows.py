"""Prefect flows: the batch flow over recordings (one task per call) and the nightly inbox flow.

Each call is one task (`process-call`) so a bad call fails alone, transient errors (the
store locked by another process for too long) are retried with backoff, and Prefect's UI
shows every call. The task wraps `qa.ingest.handle_file` (idempotent by content hash) and
runs the processing in a killable worker process (`pipelines.worker`), so a call that
exceeds its timeout is recorded as failed at stage `timeout` and the batch goes on.

Calls that could collide (same audio, or same call id) never run at the same time: the
first runs with the others, the rest afterwards, one by one, where the usual rules apply
(same audio: skipped; another recording under a stored id: failed).

The run is recorded in the store's `runs` table (`qa.runs`) and a progress line is printed
per call (position, audio processed, ETA; ids only, never content).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines import prefect_env

prefect_env.configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.futures import as_completed  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

from pipelines.runners import make_task_runner, plan_workers  # noqa: E402
from pipelines.worker import shutdown_workers, thread_worker  # noqa: E402
from qa.config import Settings, load_settings  # noqa: E402
from qa.ingest import (  # noqa: E402
    FileOutcome, discover, duration_bound, free_mb, handle_file, probe_duration, quarantine, still_changing,
)
from qa.access import day_totals  # noqa: E402
from qa.kpi.refresh import after_batch  # noqa: E402
from qa.metadata import read_metadata  # noqa: E402
from qa.pipeline import file_sha256  # noqa: E402
from qa.runs import RunCounts, start_run, update_run  # noqa: E402
from qa.store import Store, StoreBusy  # noqa: E402

# failures that say nothing about the file: never quarantined, the next run tries again
NOT_QUARANTINED = {"worker", "store"}


def _transient(task, task_run, state) -> bool:
    """Retry only errors that may pass: the store busy, or a file still being copied."""
    try:
        state.result()
    except (StoreBusy, TimeoutError, ConnectionError):
        return True
    except Exception:
        return False
    return False


@dataclass
class Progress:
    """Calls done/total, audio processed and an ETA from the audio still to process."""

    durations: dict[str, float | None]  # path -> seconds from the header (None: unknown)
    started: float = field(default_factory=time.perf_counter)
    done: list[str] = field(default_factory=list)
    worked: float = 0.0  # audio seconds of finished calls that were processed (not skipped)
    processed: int = 0

    def eta_s(self, elapsed: float) -> float | None:
        remaining = [p for p in self.durations if p not in set(self.done)]
        if not remaining:
            return 0.0
        if not self.processed:
            return None
        known = [self.durations[p] for p in remaining]
        if self.worked > 0 and all(d is not None for d in known):
            return elapsed / self.worked * sum(known)  # seconds of wall time per second of audio
        return elapsed / self.processed * len(remaining)

    def line(self, out: FileOutcome) -> str:
        self.done.append(out.path)
        if out.status != "skipped":
            self.processed += 1
            self.worked += self.durations.get(out.path) or out.duration_s or 0.0
        elapsed = time.perf_counter() - self.started
        audio = sum(self.durations.get(p) or 0.0 for p in self.done)
        total_audio = sum(d or 0.0 for d in self.durations.values())
        eta = self.eta_s(elapsed)
        unscored = f"ok, unscored: {out.reason}" if out.reason else "ok (unscored)"
        what = {"ok": f"ok {out.score_pct:.1f}%" if out.score_pct is not None else unscored,
                "skipped": "skipped (already stored)", "failed": f"FAILED at {out.stage}: {out.reason}"}[out.status]
        return (f"[{len(self.done)}/{len(self.durations)}] {out.call_id}: {what} | audio {audio / 60:.1f}"
                f"/{total_audio / 60:.1f} min | elapsed {elapsed:.0f} s | ETA "
                + ("-" if eta is None else f"{eta:.0f} s"))


@task(name="process-call", retries=2, retry_delay_seconds=[5, 30], retry_jitter_factor=0.5,
      retry_condition_fn=_transient, cache_policy=NO_CACHE)
def process_call_task(path: str, settings: dict[str, Any], force: bool = False) -> dict[str, Any]:
    cfg = Settings(**settings)
    if (free := free_mb(cfg.db)) < cfg.min_free_mb:  # no ASR for a call that could not be saved
        reason = (f"No space left on device: {free:.0f} MB free beside {cfg.db} (min_free_mb {cfg.min_free_mb:.0f}); "
                  "not processed, the next run tries again")
        return asdict(FileOutcome(path, "failed", Path(path).stem, reason, "store"))
    worker = thread_worker()
    duration = duration_bound(path)

    def in_worker(p, s, rubric, sha, meta):
        return worker.run(p, s, rubric, sha, meta, duration)

    out = handle_file(path, cfg, Store(cfg.db), force=force, processor=in_worker)
    if out.status == "failed" and cfg.quarantine_dir and out.stage not in NOT_QUARANTINED and Path(path).exists():
        quarantine(path, cfg.quarantine_dir, out.stage, out.reason)
    return asdict(out)


def _waves(files: list[Path], settings: Settings) -> tuple[list[Path], list[Path]]:
    """(parallel, later): a file whose audio or call id an earlier file has waits for `later`."""
    seen: set[str] = set()
    first, later = [], []
    for f in files:
        try:
            keys = {"sha:" + file_sha256(f)}
        except OSError:
            keys = set()
        try:
            keys.add("id:" + (read_metadata(f, settings.filename_pattern).call_id or f.stem))
        except Exception:
            keys.add("id:" + f.stem)
        (later if keys & seen else first).append(f)
        seen |= keys
    return first, later


def _failed_task(path: str, exc: BaseException) -> dict[str, Any]:
    reason = f"{type(exc).__name__}: {exc} (not stored; the next run retries it)"
    return asdict(FileOutcome(path, "failed", Path(path).stem, reason, "store"))


@flow(name="callqa-batch", task_runner=ThreadPoolTaskRunner(max_workers=1))
def batch_flow(
    paths: list[str],
    settings: dict[str, Any],
    force: bool = False,
    patterns: list[str] | None = None,
    progress: bool = True,
    run_args: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Process every recording under `paths` into the store named in `settings`."""
    from prefect.runtime import flow_run

    cfg = Settings(**settings)
    store = Store(cfg.db)
    store.init()
    import_aborted_runs(store)
    files = discover(paths, patterns)
    changing = still_changing(files, cfg.settle_s)
    if changing and progress:
        print(f"{len(changing)} file(s) still being written (size or time changed within {cfg.settle_s:.0f} s), "
              "left for the next run: " + ", ".join(f.name for f in changing[:5]) + (" ..." if len(changing) > 5 else ""),
              flush=True)
    files = [f for f in files if f not in set(changing)]
    tracker = Progress({str(f): probe_duration(f) for f in files})
    counts = RunCounts(total=len(files))
    run_id = start_run(store, len(files), run_args or {"paths": paths, "force": force}, flow_run.id or None)
    outcomes: list[dict[str, Any]] = []
    status = "failed"
    try:
        first, later = _waves(files, cfg)

        def collect(futures: dict) -> None:
            for fut in as_completed(list(futures)):
                try:
                    out = fut.result()
                except Exception as exc:  # retries exhausted on a transient error
                    out = _failed_task(futures[fut], exc)
                outcomes.append(out)
                counts.add(out["status"], out["duration_s"])
                update_run(store, run_id, counts, time.perf_counter() - tracker.started)
                if progress:
                    print(tracker.line(FileOutcome(**out)), flush=True)

        collect({process_call_task.submit(str(f), cfg.model_dump(mode="json"), force): str(f) for f in first})
        for f in later:
            collect({process_call_task.submit(str(f), cfg.model_dump(mode="json"), force): str(f)})
        status = "completed"
        kpis = after_batch(cfg)  # a repeat call in this batch updates earlier contacts' FCR rows
        days = day_totals.after_write(cfg.db, cfg.display_timezone)  # the coaching pages' per-day counts
        if progress:
            for line in (kpis, days):
                if line:
                    print(line, flush=True)
    finally:
        update_run(store, run_id, counts, time.perf_counter() - tracker.started, status)
        shutdown_workers()
    order = {str(f): i for i, f in enumerate(files)}
    return sorted(outcomes, key=lambda o: order.get(o["path"], 0))


class BatchAborted(RuntimeError):
    """The batch could not start (store locked, disk full); the message is one line saying why."""


START_RETRY_DELAYS_S = (5.0, 30.0)  # after the store's own 60 s budget, as for the per-call tasks


def _journal(db: Path) -> Path:
    return db.with_name(db.name + ".aborted-runs.jsonl")


def record_aborted_run(db: Path, reason: str, args: dict[str, Any], calls_total: int) -> None:
    """The store could not be written: note the run beside it; the next run that opens the store
    moves the note into `runs` (status `aborted`). Best effort: on a full disk even this may fail."""
    import json
    import os
    import socket
    import uuid

    entry = {"run_id": uuid.uuid4().hex[:12], "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "reason": reason,
             "host": socket.gethostname(), "pid": os.getpid(), "args": args, "calls_total": calls_total}
    try:
        with open(_journal(Path(db)), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
    except OSError:
        pass


def import_aborted_runs(store: Store) -> int:
    """Move the runs noted by `record_aborted_run` into the `runs` table; returns how many."""
    import json

    path = _journal(store.path)
    if not path.is_file():
        return 0
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with store.connect() as con:
        for e in entries:
            con.execute(
                "INSERT INTO runs VALUES (?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), 'aborted', ?, 0, 0, 0, 0.0,"
                " 0.0, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
                [e["run_id"], e["at"], e["at"], e["calls_total"], e["host"], e["pid"],
                 json.dumps({**e["args"], "aborted": e["reason"]}, default=str)])
    path.unlink()
    return len(entries)


def preflight(settings: Settings, calls_total: int, args: dict[str, Any],
              delays: tuple[float, ...] = START_RETRY_DELAYS_S, store_timeout_s: float = 60.0) -> None:
    """Before anything starts: enough free space beside the store, and the store writable (waiting
    and retrying while another process holds its lock). Raises `BatchAborted` with one line."""
    db = Path(settings.db)
    free = free_mb(db)
    if free < settings.min_free_mb:
        reason = (f"No space left on device: {free:.0f} MB free on the filesystem of {db} (min_free_mb "
                  f"{settings.min_free_mb:.0f}); free space and re-run, nothing was processed")
        record_aborted_run(db, reason, args, calls_total)
        raise BatchAborted(reason)
    store = Store(db, timeout_s=store_timeout_s)
    for attempt in range(len(delays) + 1):
        try:
            store.init()
            return
        except StoreBusy as exc:
            if attempt == len(delays):
                waited = store.timeout_s * (len(delays) + 1) + sum(delays)
                reason = (f"the store {db} is locked ({getattr(exc, 'holder', 'holder unknown')}); waited {waited:.0f} s. "
                          "Close that session (a read-only duckdb shell also locks writers out) and re-run")
                record_aborted_run(db, reason, args, calls_total)
                raise BatchAborted(reason) from None
            time.sleep(delays[attempt])
        except Exception as exc:
            from qa.ingest import disk_full

            if disk_full(exc):
                reason = f"No space left on device while opening {db}; free space and re-run, nothing was processed"
                record_aborted_run(db, reason, args, calls_total)
                raise BatchAborted(reason) from None
            raise


_watchdog = None


def _guard_temporary_server() -> None:
    """Without a Prefect server configured, this batch starts a temporary one: stop the ones killed
    batches left behind, and watch over ours (pipelines/reaper.py)."""
    import os

    global _watchdog
    if os.environ.get("PREFECT_API_URL"):
        return
    from pipelines.reaper import reap_orphans, start_watchdog

    reaped = reap_orphans()
    if reaped:
        print(f"Stopped {len(reaped)} temporary Prefect server(s) left by a killed batch (PID "
              + ", ".join(map(str, reaped)) + ").", flush=True)
    if _watchdog is None or _watchdog.poll() is not None:
        _watchdog = start_watchdog()


def store_intact(store: Store) -> str:
    """Proof the store survived a failure: every table reads back; a one-line summary."""
    from qa.store import CALL_TABLES

    counts = {t: store.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("calls", *CALL_TABLES, "call_scores")}
    return (f"store intact: {counts['calls']} calls, {counts['utterances']} utterances, {counts['words']} words, "
            f"{counts['call_scores']} scores read back from {store.path}")


def run_batch(
    paths: list[str],
    settings: Settings,
    force: bool = False,
    patterns: list[str] | None = None,
    progress: bool = True,
    runner: str | None = None,
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """Plan workers and threads, pick the task runner, run `batch_flow` (from the CLI or a flow)."""
    n, threads = plan_workers(settings, workers)
    kind = runner or settings.runner
    cfg = settings.model_copy(update={"workers": n, "asr_threads": threads, "runner": kind})
    args = {"paths": [str(p) for p in paths], "force": force, "runner": kind, "workers": n, "asr_threads": threads,
            "patterns": patterns}
    try:
        total = len(discover(paths, patterns))
    except OSError:
        total = 0
    preflight(cfg, total, args)
    _guard_temporary_server()
    flow_ = batch_flow.with_options(task_runner=make_task_runner(kind, n, cfg.dask_address))
    return flow_(paths, cfg.model_dump(mode="json"), force=force, patterns=patterns, progress=progress, run_args=args)


@flow(name="callqa-nightly")
def nightly_flow(
    inbox: str,
    db: str | None = None,
    config: str | None = None,
    patterns: list[str] | None = None,
    runner: str | None = None,
    workers: int | None = None,
    quarantine_dir: str | None = None,
    force: bool = False,
) -> dict[str, int]:
    """The scheduled job: process the inbox (recursive) into the store; returns the counts."""
    settings = load_settings(Path(config) if config else None, db=db, quarantine_dir=quarantine_dir)
    outcomes = run_batch([inbox], settings, force=force, patterns=patterns, runner=runner, workers=workers)
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    for o in outcomes:
        counts[o["status"]] += 1
    return counts
