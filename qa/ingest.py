"""Batch ingestion without an orchestrator: find recordings, and handle one file idempotently.

`handle_file` is the unit of work of a batch: hash the content, skip a call already
stored for that content, process it, store it, or record a readable failure. Prefect
tasks wrap it (`pipelines/flows.py`, which runs the processing in a killable worker
process through `processor`); tests and benchmarks call it directly. `probe_duration`
(a header read) sizes timeouts and ETAs; `quarantine` moves a failed file aside.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.audio import AUDIO_EXTENSIONS, AudioError
from qa.config import Settings
from qa.metadata import CallMetadata, MetadataError, read_metadata, sidecar_path
from qa.pipeline import CallResult, StageError, file_sha256, process_call
from qa.rubric.schema import Rubric
from qa.store import Store, StoreBusy

log = logging.getLogger("callqa.ingest")

STORED = ("ok", "unscored")  # statuses of a call whose transcript is stored: a re-run skips it
# (path, settings, rubric, sha256, metadata) -> CallResult; raises StageError on failure
Processor = Callable[[Path, Settings, "Rubric | None", str, CallMetadata], CallResult]


@dataclass
class FileOutcome:
    path: str
    status: str  # ok | skipped | failed
    call_id: str | None = None
    reason: str = ""
    stage: str = ""
    duration_s: float = 0.0
    score_pct: float | None = None
    seconds: float = 0.0


def discover(paths: list[str | Path], patterns: list[str] | None = None) -> list[Path]:
    """Audio files under `paths` (files or folders, recursive), sorted, without duplicates.

    `patterns` are shell globs matched against file names (default: known audio extensions).
    A path that does not exist raises FileNotFoundError: a typo should not look like an empty inbox.
    """
    found: dict[Path, None] = {}
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {p}")
        candidates = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
        for f in candidates:
            name = f.name.lower()
            if patterns:
                ok = any(fnmatch.fnmatch(name, pat.lower()) for pat in patterns)
            else:
                ok = name.endswith(AUDIO_EXTENSIONS)
            if ok and not name.startswith("."):
                found[f.resolve()] = None
    return list(found)


def handle_file(
    path: str | Path,
    settings: Settings,
    store: Store,
    rubric: Rubric | None = None,
    force: bool = False,
    processor: Processor | None = None,
) -> FileOutcome:
    """Process and store one recording; never raises for a bad file (the outcome says why).

    `processor` does the work (default: `process_call` in this process). Store errors
    (`StoreBusy`) do propagate: they are transient and the caller retries.
    """
    t0 = time.perf_counter()
    path = Path(path)
    sha: str | None = None
    call_id: str | None = path.stem
    meta = None
    try:
        sha = file_sha256(path)
        meta = read_metadata(path, settings.filename_pattern, settings.metadata_timezone)
        call_id = meta.call_id
        if not force:
            done = store.find_by_sha(sha)
            if done and done[1] in STORED:
                return FileOutcome(str(path), "skipped", done[0], "already processed (same audio content)")
            existing = store.find_call(call_id)
            if existing and existing[1] in STORED and existing[0] != sha and extends_stored(store, call_id, path):
                log.info("call %s: the recording extends the stored one; replacing it", call_id)
            elif existing and existing[1] in STORED and existing[0] != sha:
                reason = (
                    f"call id {call_id!r} is already stored for different audio; "
                    "rename the call id or re-run with --force to replace it"
                )
                store.record_failure(str(path), sha, None, "ingest", reason)
                return FileOutcome(str(path), "failed", call_id, reason, "ingest")
        if processor is None:
            result = process_call(path, settings, rubric=rubric, sha256=sha, metadata=meta)
        else:
            result = processor(path, settings, rubric, sha, meta)
        result.stats["source_bytes"] = path.stat().st_size  # lets a longer copy of this recording replace it
        save_with_retries(store, result)
        if result.stats.get("rubric_error"):
            store.record_failure(str(path), sha, result.call_id, "rubric", result.stats["rubric_error"])
        score = result.call_score.score_pct if result.call_score else None
        log.info("stored call %s (%.1f s audio)", result.call_id, result.duration_s)
        return FileOutcome(
            str(path), "ok", result.call_id, reason=getattr(result, "status_reason", None) or "",
            duration_s=result.duration_s, score_pct=score, seconds=time.perf_counter() - t0,
        )
    except (StageError, AudioError, MetadataError, OSError) as exc:
        stage = getattr(exc, "stage", "metadata" if isinstance(exc, MetadataError) else "read")
        reason = getattr(exc, "message", None) or str(exc)
        cause = exc.__cause__
        if isinstance(exc, StageError) and isinstance(cause, (AudioError, MetadataError)):
            reason = str(cause)
        try:
            store.record_failure(str(path), sha, call_id, stage, reason, meta)
        except Exception:  # the store is what failed (busy, full): the outcome and the run's counts say why
            if stage != "store":
                raise
        log.warning("call %s failed at %s: %s", call_id, stage, reason)
        return FileOutcome(str(path), "failed", call_id, reason, stage, seconds=time.perf_counter() - t0)


SAVE_RETRY_DELAYS_S = (5.0, 30.0)  # after the store's own 60 s budget: the save alone is retried, never ASR


def save_with_retries(store: Store, result: CallResult, delays: tuple[float, ...] = SAVE_RETRY_DELAYS_S) -> None:
    """Save a processed call; while the store stays locked retry the save (not the processing),
    then raise `StageError('store', ...)` naming the lock's holder so the call is recorded, not lost."""
    for attempt in range(len(delays) + 1):
        try:
            store.save_call(result)
            return
        except Exception as exc:
            if not isinstance(exc, StoreBusy):
                if disk_full(exc):
                    raise StageError("store", "No space left on device while saving the call (its transaction was "
                                              "rolled back: calls stored before are untouched); free space and "
                                              "re-run") from exc
                raise
            if attempt == len(delays):
                raise StageError("store", f"{exc}; the transcript was not saved, the next run processes it again") from exc
            log.warning("call %s: store busy, retrying the save in %.0f s", result.call_id, delays[attempt])
            time.sleep(delays[attempt])


def disk_full(exc: BaseException) -> bool:
    """True for "No space left on device" however it surfaces (OSError ENOSPC, a DuckDB IO error)."""
    import errno

    while exc is not None:
        if getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def free_mb(path: str | Path) -> float:
    """Free space (MB) on the filesystem that holds `path` (or its nearest existing parent)."""
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free / 1e6


def extends_stored(store: Store, call_id: str, path: Path) -> bool:
    """True when the audio stored under `call_id` is a prefix of `path` (the stored call came from
    a copy still in progress): the whole recording then replaces it."""
    import hashlib

    rows = store.query("SELECT content_sha256, stats_json FROM calls WHERE call_id = ?", [call_id])
    if not rows or not rows[0][1]:
        return False
    import json

    size = json.loads(rows[0][1]).get("source_bytes")
    if not size or size >= path.stat().st_size:
        return False
    digest, left = hashlib.sha256(), int(size)
    with open(path, "rb") as fh:
        while left and (block := fh.read(min(left, 1 << 20))):
            digest.update(block)
            left -= len(block)
    return left == 0 and digest.hexdigest() == rows[0][0]


def still_changing(files: list[Path], settle_s: float) -> list[Path]:
    """The files still being written: changed (size or mtime) within `settle_s`, watched that long.

    Files older than `settle_s` are not waited for; the wait happens once for all fresh files.
    """
    if settle_s <= 0:
        return []

    def sig(f: Path):
        try:
            st = f.stat()
            return st.st_size, st.st_mtime_ns
        except OSError:
            return None

    now = time.time()
    fresh = {f: sig(f) for f in files if (s := sig(f)) is not None and now - s[1] / 1e9 < settle_s}
    if not fresh:
        return []
    time.sleep(settle_s)
    return [f for f, before in fresh.items() if sig(f) != before]


def probe_duration(path: str | Path) -> float | None:
    """Duration from the file header (milliseconds per file), or None when it cannot be read cheaply."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:
        return None
    return float(info.duration) if info.duration and info.duration > 0 else None


def duration_bound(path: str | Path) -> float:
    """A duration to plan with: the header's, else an upper bound from the size at 8 kbit/s.

    8 kbit/s is below every telephone codec in use (G.729; GSM is 13), so the bound is
    generous: it sizes a timeout, never a bill.
    """
    known = probe_duration(path)
    if known is not None:
        return known
    try:
        return max(1.0, Path(path).stat().st_size / 1000.0)
    except OSError:
        return 1.0


def quarantine(path: str | Path, dest_dir: str | Path, stage: str, reason: str) -> Path:
    """Move a failed recording (and its JSON sidecar) into `dest_dir` with `<name>.reason.txt`.

    Names that already exist there get a numeric suffix; returns where the audio went.
    """
    path, dest_dir = Path(path), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / path.name
    n = 1
    while target.exists() or target.with_suffix(".json").exists():
        target = dest_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    sidecar = sidecar_path(path)
    shutil.move(str(path), target)
    if sidecar.is_file() and sidecar != path:
        shutil.move(str(sidecar), target.with_suffix(".json"))
    note = target.parent / (target.name + ".reason.txt")
    tmp = note.with_suffix(".tmp")
    moved_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    tmp.write_text(f"source: {path}\nstage: {stage}\nreason: {reason}\nmoved_at: {moved_at}\n")
    os.replace(tmp, note)
    return target
