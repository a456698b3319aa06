"""Batch run history in the store's `runs` table: one row per batch, kept up to date as it goes.

A run is written when it starts (status `running`), its counts after every call, and its
end (`completed`). A process killed mid-batch cannot write its end, so its row stays
`running`; the next run on the same host marks rows whose process is gone `interrupted`.
Counts only, never call content.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qa.store import Store

RUN_COLUMNS = [
    "run_id", "started_at", "finished_at", "status", "calls_total", "calls_ok", "calls_failed", "calls_skipped",
    "audio_s", "wall_s", "host", "pid", "args",
]


@dataclass
class RunCounts:
    """What a run has done so far."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    audio_s: float = 0.0  # audio of the calls stored by this run (ok), not of skipped or failed ones

    def add(self, status: str, duration_s: float = 0.0) -> None:
        if status == "ok":
            self.ok += 1
        elif status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
        if status == "ok":
            self.audio_s += duration_s or 0.0


@dataclass
class RunRecord:
    run_id: str
    started_at: datetime | None
    finished_at: datetime | None
    status: str  # running | completed | failed | interrupted
    calls_total: int
    calls_ok: int
    calls_failed: int
    calls_skipped: int
    audio_s: float
    wall_s: float | None
    host: str
    pid: int
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def audio_hours_per_hour(self) -> float | None:
        """Throughput: hours of audio processed per hour of wall time."""
        return self.audio_s / self.wall_s if self.wall_s else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(store: Store) -> int:
    """Rows left `running` by a process of this host that no longer exists become `interrupted`."""
    host = socket.gethostname()
    rows = store.query("SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ?", [host])
    dead = [run_id for run_id, pid in rows if pid != os.getpid() and not _pid_alive(int(pid or 0))]
    if dead:
        with store.connect() as con:
            con.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = coalesce(finished_at, now()) WHERE run_id = ?",
                [[r] for r in dead],
            )
    return len(dead)


def start_run(store: Store, calls_total: int, args: dict[str, Any], run_id: str | None = None) -> str:
    """Record a new run (status `running`) after marking dead ones interrupted; returns its id."""
    store.init()
    mark_interrupted(store)
    run_id = run_id or uuid.uuid4().hex[:12]
    with store.connect() as con:
        con.execute(
            "INSERT INTO runs VALUES (?, now(), NULL, 'running', ?, 0, 0, 0, 0.0, NULL, ?, ?, ?)"
            " ON CONFLICT (run_id) DO UPDATE SET status = 'running', calls_total = excluded.calls_total",
            [run_id, calls_total, socket.gethostname(), os.getpid(), json.dumps(args, default=str)],
        )
    return run_id


def update_run(store: Store, run_id: str, counts: RunCounts, wall_s: float, status: str | None = None) -> None:
    """Write the counts so far; with `status` (completed | failed) also the end time."""
    sql = ("UPDATE runs SET calls_ok = ?, calls_failed = ?, calls_skipped = ?, audio_s = ?, wall_s = ?,"
           " calls_total = ?")
    params: list[Any] = [counts.ok, counts.failed, counts.skipped, round(counts.audio_s, 3), round(wall_s, 3),
                         counts.total]
    if status:
        sql += ", status = ?, finished_at = now()"
        params.append(status)
    with store.connect() as con:
        con.execute(sql + " WHERE run_id = ?", [*params, run_id])


def recent_runs(store: Store, limit: int = 20) -> list[RunRecord]:
    """The latest runs, newest first (empty when the store has no runs table yet)."""
    try:
        rows = store.query(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY started_at DESC LIMIT {int(limit)}")
    except Exception as exc:  # a store written before run history existed
        if "runs" in str(exc) and "does not exist" in str(exc):
            return []
        raise
    out = []
    for row in rows:
        rec = dict(zip(RUN_COLUMNS, row))
        rec["args"] = json.loads(rec["args"] or "{}")
        out.append(RunRecord(**rec))
    return out
