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
from qa.store import Store

log = logging.getLogger("callqa.ingest")

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
        meta = read_metadata(path, settings.filename_pattern)
        call_id = meta.call_id
        if not force:
            done = store.find_by_sha(sha)
            if done and done[1] == "ok":
                return FileOutcome(str(path), "skipped", done[0], "already processed (same audio content)")
            existing = store.find_call(call_id)
            if existing and existing[1] == "ok" and existing[0] != sha:
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
        store.save_call(result)
        if result.stats.get("rubric_error"):
            store.record_failure(str(path), sha, result.call_id, "rubric", result.stats["rubric_error"])
        score = result.call_score.score_pct if result.call_score else None
        log.info("stored call %s (%.1f s audio)", result.call_id, result.duration_s)
        return FileOutcome(
            str(path), "ok", result.call_id, duration_s=result.duration_s, score_pct=score,
            seconds=time.perf_counter() - t0,
        )
    except (StageError, AudioError, MetadataError, OSError) as exc:
        stage = getattr(exc, "stage", "metadata" if isinstance(exc, MetadataError) else "read")
        reason = getattr(exc, "message", None) or str(exc)
        cause = exc.__cause__
        if isinstance(exc, StageError) and isinstance(cause, (AudioError, MetadataError)):
            reason = str(cause)
        store.record_failure(str(path), sha, call_id, stage, reason, meta)
        log.warning("call %s failed at %s: %s", call_id, stage, reason)
        return FileOutcome(str(path), "failed", call_id, reason, stage, seconds=time.perf_counter() - t0)


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
