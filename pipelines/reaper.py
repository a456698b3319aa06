"""Reap the temporary Prefect server a killed batch leaves behind.

Without `PREFECT_API_URL`, Prefect starts a temporary API server (uvicorn, ~220 MB) as a child of
the CLI and stops it at exit; `kill -9` skips that, and the server runs on as an orphan. Every
process started after `prefect_env.configure()` carries `CALLQA_PREFECT_OWNER=<pid of the CLI>` in
its environment, so the server can be traced to the batch that started it:

- `start_watchdog()` starts a small detached process that waits for the batch to end and then
  stops the servers that batch owned (within about a second of a `kill -9`);
- `reap_orphans()` (run at the start of every batch) stops any temporary server whose owner is
  gone, for the cases the watchdog missed (the watchdog killed too, a reboot of the shell...).

Only processes whose command line is Prefect's temporary server (`prefect.server.api.server:
create_app`) and whose owner marker names a dead process are touched.

    python -m pipelines.reaper --watch PID     (started by `start_watchdog`)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

OWNER_ENV = "CALLQA_PREFECT_OWNER"
SERVER_MARK = b"prefect.server.api.server:create_app"


def _alive(pid: int) -> bool:
    from qa.runs import _pid_alive

    if not _pid_alive(pid):
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def temporary_servers() -> list[tuple[int, int | None]]:
    """(pid, owner pid) of every Prefect temporary server running on this machine."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if SERVER_MARK not in (d / "cmdline").read_bytes():
                continue
            env = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        owner = next((int(e.split(b"=", 1)[1]) for e in env if e.startswith(OWNER_ENV.encode() + b"=")
                      and e.split(b"=", 1)[1].isdigit()), None)
        out.append((int(d.name), owner))
    return out


def _stop(pid: int, grace_s: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def reap_orphans(owner: int | None = None) -> list[int]:
    """Stop the temporary servers whose owner is dead (only `owner`'s, if given); their pids."""
    reaped = []
    for pid, who in temporary_servers():
        if who is None or (owner is not None and who != owner) or _alive(who):
            continue
        _stop(pid)
        reaped.append(pid)
    return reaped


def start_watchdog(owner: int | None = None) -> subprocess.Popen:
    """A detached process that reaps `owner`'s temporary servers once `owner` (default: us) is gone."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.reaper", "--watch", str(owner or os.getpid())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=env, close_fds=True,
    )


def watch(owner: int, poll_s: float = 0.5) -> None:
    while _alive(owner):
        time.sleep(poll_s)
    reap_orphans(owner)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--watch" and sys.argv[2].isdigit():
        watch(int(sys.argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
