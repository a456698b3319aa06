"""A killable worker process for one call at a time, so a hung call can be timed out.

A thread cannot be killed, and faster-whisper can hang on hard audio, so the processing
(`qa.pipeline.process_call`) runs in a child process started with `subprocess` (which,
unlike `multiprocessing`, also works inside Dask's daemonic worker processes). The child
lives across calls and keeps its models loaded; the parent waits at most the call's
timeout, then kills the child, raises `CallTimeout` (stage `timeout`) and starts a fresh
child for the next call. The parent stores results: the child never touches the store.

Protocol on the child's stdin/stdout: 8-byte big-endian length + pickle. The child sends
`("ready", pid)` once, then `("ok", CallResult)` or `("error", stage, reason)` per request.
It exits when its stdin closes or its parent process disappears.

    python -m pipelines.worker      (started by `CallWorker`; not meant to be run by hand)
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from qa.pipeline import StageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 300.0  # imports on a busy 2-core machine can take a while
_HEADER = struct.Struct(">Q")


class CallTimeout(StageError):
    def __init__(self, seconds: float, duration_s: float | None):
        audio = f" for {duration_s:.0f} s of audio" if duration_s else ""
        allowed = f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"
        super().__init__("timeout", f"processing took longer than the {allowed} s allowed{audio}; "
                                    "the worker was stopped (a hung decoder or an overloaded machine)")


def call_timeout(settings: Any, duration_s: float | None) -> float:
    """max(min, factor x duration): the time one call may take before its worker is killed."""
    return max(settings.call_timeout_min_s, settings.call_timeout_factor * (duration_s or 0.0))


# --- framing -----------------------------------------------------------------------------
def _send(fh, obj: Any) -> None:
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEADER.pack(len(blob)) + blob)
    fh.flush()


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv(fd: int, deadline: float | None = None) -> Any:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    return pickle.loads(_read_exact(fd, size, deadline))


# --- parent side -------------------------------------------------------------------------
FIRST_CALL_GRACE_S = 300.0  # extra time for a fresh worker's first call, which loads the models


class CallWorker:
    """One child process; `run` processes a call in it within a timeout."""

    def __init__(self, startup_timeout_s: float = STARTUP_TIMEOUT_S, first_call_grace_s: float = FIRST_CALL_GRACE_S):
        self.startup_timeout_s = startup_timeout_s
        self.first_call_grace_s = first_call_grace_s
        self.proc: subprocess.Popen | None = None
        self.calls = 0
        self.warm = False  # a fresh child loads its models (ASR, embeddings, sentiment) on its first call

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        self.warm = False
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=env, cwd=os.getcwd(),
        )
        try:
            msg = _recv(self.proc.stdout.fileno(), time.monotonic() + self.startup_timeout_s)
        except (TimeoutError, EOFError) as exc:
            self.kill()
            raise StageError("worker", f"the worker process did not start ({type(exc).__name__})") from None
        if msg[0] != "ready":
            self.kill()
            raise StageError("worker", "the worker process sent an unexpected greeting")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for fh in (self.proc.stdin, self.proc.stdout):
            try:
                fh.close()
            except OSError:
                pass
        self.proc = None

    def run(self, path: Path, settings: Any, rubric: Any, sha: str, meta: Any, duration_s: float | None = None):
        """`process_call` in the child; `CallTimeout` after `call_timeout(settings, duration_s)`."""
        if not self.alive():
            self.kill()
            self.start()
        timeout = call_timeout(settings, duration_s)
        if not self.warm:
            timeout += self.first_call_grace_s  # model loading is not the call's fault
        try:
            _send(self.proc.stdin, (str(path), settings.model_dump(mode="json"), rubric, sha, meta))
            reply = _recv(self.proc.stdout.fileno(), time.monotonic() + timeout)
        except TimeoutError:
            self.kill()
            raise CallTimeout(timeout, duration_s) from None
        except (EOFError, BrokenPipeError, OSError):
            code = self.proc.wait() if self.proc else None
            self.kill()
            raise StageError("worker", f"the worker process died while processing (exit code {code}; "
                                       "out of memory or a crash in a native library)") from None
        self.calls += 1
        self.warm = True
        if reply[0] == "ok":
            return reply[1]
        raise StageError(reply[1], reply[2])


_local = threading.local()
_all: list[CallWorker] = []
_all_lock = threading.Lock()


def thread_worker() -> CallWorker:
    """The worker of the calling thread (each task-runner thread or process gets its own)."""
    worker = getattr(_local, "worker", None)
    if worker is None:
        worker = _local.worker = CallWorker()
        with _all_lock:
            _all.append(worker)
    return worker


def shutdown_workers() -> None:
    """Stop every worker this process started (children also exit on their own when it dies)."""
    with _all_lock:
        workers = list(_all)
    for w in workers:
        w.kill()


# --- child side --------------------------------------------------------------------------
def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(3)  # orphaned: the batch was killed, stop computing for nobody
        time.sleep(1.0)


def _reply_for(path: str, settings_dict: dict, rubric: Any, sha: str, meta: Any) -> tuple:
    from qa.audio import AudioError
    from qa.config import Settings
    from qa.metadata import MetadataError
    from qa.pipeline import process_call

    try:
        return ("ok", process_call(path, Settings(**settings_dict), rubric=rubric, sha256=sha, metadata=meta))
    except StageError as exc:
        cause = exc.__cause__
        reason = str(cause) if isinstance(cause, (AudioError, MetadataError)) else exc.message
        return ("error", exc.stage, reason)
    except (AudioError, MetadataError, OSError) as exc:
        return ("error", "metadata" if isinstance(exc, MetadataError) else "read", str(exc))
    except Exception as exc:  # a bug: keep the batch going, say what it was
        return ("error", "process", f"{type(exc).__name__}: {exc}")


def serve() -> None:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    # the protocol owns the real stdout; anything printed by libraries goes to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from pipelines import prefect_env

    prefect_env.configure()  # the same offline switches as the parent (never imports prefect)
    import qa.pipeline  # noqa: F401  (import the heavy modules before saying ready)

    _send(out, ("ready", os.getpid()))
    fd = sys.stdin.fileno()
    while True:
        try:
            request = _recv(fd)
        except EOFError:
            return
        _send(out, _reply_for(*request))


if __name__ == "__main__":
    serve()
