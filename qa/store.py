"""The DuckDB store: schema, idempotent per-call writes, failures, and short-lived connections.

DuckDB allows one writing process per file, and a read-only connection in another process
blocks a writer. So nobody holds the file open: every operation opens a connection, does
its work and closes it, retrying while another process holds the lock. A call's rows are
replaced in one transaction, so readers never see a half-written call.

Schema (analysts may query these tables directly; see README "Data model"):
  calls          one row per call (PK call_id); status ok | unscored (stored, kept out of aggregates) | failed
  utterances     (call_id, idx) speaker_role agent|customer|unknown, start_s, end_s, text
  speech_turns   (call_id, idx) who spoke when (diarization), with speaker_role
  words          (call_id, idx) word timings, for evidence and audio redaction
  pii_redactions (call_id, idx) personal data removed from the text: kind, time, masked value
  item_results   automatic rubric item outcomes pass|fail|na with evidence (reviews: qa.reviews)
  call_scores    (call_id, rubric_id, rubric_version) score_pct, auto_failed, band
  failures       every failed attempt, with stage and a readable reason
  call_metrics   (call_id, name) conversation metrics (talk ratio, interruptions, dead air, ...)
  call_events    (call_id, idx) timed events: holds, interruptions (kind, start_s, end_s, details)
  call_profiles  (call_id, profile) customer profile tags with reasons and the handling strategy
  runs           batch run history: started/finished, status, call counts, audio and wall seconds
  search_tokens  folded tokens of the redacted utterance text -> call, utterance, time (qa.text_index)
  call_kpis      (call_id) contact-centre KPIs per call, derived across calls by `qa.kpi.refresh`:
                 first contact / repeat, the repeat that followed, handle-time parts, waits, csat
  call_surveys   (call_id) survey scores imported after the call (`qa.kpi.surveys`)

Versions (`meta.schema_version`): 1 the first tables; 2 sentiment columns and runs; 3 the
search index, built for every stored call when a store of version 1-2 is first opened for
writing (`init`, idempotent: a re-run finds the current version and does nothing); 4 the KPI tables
(`call_kpis`, `call_surveys`, created empty; `qa.kpi.refresh` fills them).
"""

from __future__ import annotations

import json
import random
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import duckdb

from qa import text_index

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 4

KPI_DDL = """CREATE TABLE IF NOT EXISTS call_kpis (
        call_id VARCHAR PRIMARY KEY, customer_known BOOLEAN, is_first BOOLEAN, first_call_id VARCHAR,
        repeat_call_id VARCHAR, window_s DOUBLE, window_ends_at TIMESTAMPTZ, talk_s DOUBLE, hold_s DOUBLE,
        hold_count INTEGER, after_call_gap_s DOUBLE, latency_mean_s DOUBLE, latency_max_s DOUBLE,
        unannounced_wait_max_s DOUBLE, csat INTEGER, csat_estimate DOUBLE, frozen BOOLEAN DEFAULT false,
        computed_at TIMESTAMPTZ)"""
# post-call survey scores that arrive after the call (`callqa kpi import-csat`); they win over the sidecar's
SURVEY_DDL = """CREATE TABLE IF NOT EXISTS call_surveys (
        call_id VARCHAR PRIMARY KEY, csat INTEGER, received_at TIMESTAMPTZ, source VARCHAR)"""

DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS calls (
        call_id VARCHAR PRIMARY KEY,
        source_path VARCHAR,
        content_sha256 VARCHAR,
        agent_id VARCHAR,
        agent_name VARCHAR,
        customer_id VARCHAR,
        started_at TIMESTAMPTZ,
        direction VARCHAR,
        queue VARCHAR,
        duration_s DOUBLE,
        language VARCHAR,
        language_probability DOUBLE,
        channels INTEGER,
        source_sample_rate INTEGER,
        codec VARCHAR,
        diarization_method VARCHAR,
        role_method VARCHAR,
        role_confidence DOUBLE,
        asr_model VARCHAR,
        status VARCHAR NOT NULL,
        error VARCHAR,
        error_stage VARCHAR,
        metadata_json VARCHAR,
        stats_json VARCHAR,
        processed_at TIMESTAMPTZ
    )""",
    """CREATE TABLE IF NOT EXISTS utterances (
        call_id VARCHAR, idx INTEGER, speaker VARCHAR, speaker_role VARCHAR,
        start_s DOUBLE, end_s DOUBLE, text VARCHAR, confidence DOUBLE,
        PRIMARY KEY (call_id, idx))""",
    """CREATE TABLE IF NOT EXISTS speech_turns (
        call_id VARCHAR, idx INTEGER, speaker VARCHAR, speaker_role VARCHAR, start_s DOUBLE, end_s DOUBLE,
        PRIMARY KEY (call_id, idx))""",
    """CREATE TABLE IF NOT EXISTS pii_redactions (
        call_id VARCHAR, idx INTEGER, kind VARCHAR, start_s DOUBLE, end_s DOUBLE, masked VARCHAR,
        checksum_valid BOOLEAN, PRIMARY KEY (call_id, idx))""",
    """CREATE TABLE IF NOT EXISTS words (
        call_id VARCHAR, idx INTEGER, utterance_idx INTEGER, start_s DOUBLE, end_s DOUBLE,
        text VARCHAR, probability DOUBLE, PRIMARY KEY (call_id, idx))""",
    """CREATE TABLE IF NOT EXISTS item_results (
        call_id VARCHAR, rubric_id VARCHAR, rubric_version VARCHAR, section_id VARCHAR, item_id VARCHAR,
        outcome VARCHAR, score DOUBLE, max_score DOUBLE, critical BOOLEAN, method VARCHAR,
        similarity DOUBLE, reason VARCHAR, evidence_text VARCHAR, evidence_speaker VARCHAR,
        evidence_start_s DOUBLE, evidence_end_s DOUBLE, source VARCHAR, reviewer VARCHAR,
        created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS call_scores (
        call_id VARCHAR, rubric_id VARCHAR, rubric_version VARCHAR, score_pct DOUBLE,
        auto_failed BOOLEAN, band VARCHAR, reason VARCHAR, sections_json VARCHAR, scored_at TIMESTAMPTZ,
        PRIMARY KEY (call_id, rubric_id, rubric_version))""",
    """CREATE TABLE IF NOT EXISTS failures (
        source_path VARCHAR, content_sha256 VARCHAR, call_id VARCHAR, stage VARCHAR, error VARCHAR,
        failed_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS call_metrics (
        call_id VARCHAR, name VARCHAR, value DOUBLE, PRIMARY KEY (call_id, name))""",
    """CREATE TABLE IF NOT EXISTS call_events (
        call_id VARCHAR, idx INTEGER, kind VARCHAR, start_s DOUBLE, end_s DOUBLE, details_json VARCHAR,
        PRIMARY KEY (call_id, idx))""",
    """CREATE TABLE IF NOT EXISTS call_profiles (
        call_id VARCHAR, profile VARCHAR, confidence DOUBLE, reasons_json VARCHAR, strategy VARCHAR,
        PRIMARY KEY (call_id, profile))""",
    # schema 2: additive columns for stores made by schema 1
    "ALTER TABLE utterances ADD COLUMN IF NOT EXISTS sentiment_label VARCHAR",
    "ALTER TABLE utterances ADD COLUMN IF NOT EXISTS sentiment_score DOUBLE",
    "ALTER TABLE utterances ADD COLUMN IF NOT EXISTS sentiment_polarity DOUBLE",
    "ALTER TABLE calls ADD COLUMN IF NOT EXISTS sentiment_json VARCHAR",
    # batch run history (qa/runs.py): written at start, after each call, and at the end
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR,
        calls_total INTEGER, calls_ok INTEGER, calls_failed INTEGER, calls_skipped INTEGER,
        audio_s DOUBLE, wall_s DOUBLE, host VARCHAR, pid INTEGER, args VARCHAR)""",
    # schema 3: the full-text index (filled by `init` for stores made before it)
    *text_index.INDEX_DDL,
    # schema 4: contact-centre KPIs (qa/kpi/refresh.py rewrites the rows that are not frozen)
    KPI_DDL,
    SURVEY_DDL,
]

UTTERANCE_COLUMNS = (
    "call_id, idx, speaker, speaker_role, start_s, end_s, text, confidence,"
    " sentiment_label, sentiment_score, sentiment_polarity"
)
CALL_COLUMNS = (
    "call_id, source_path, content_sha256, agent_id, agent_name, customer_id, started_at, direction, queue,"
    " duration_s, language, language_probability, channels, source_sample_rate, codec, diarization_method,"
    " role_method, role_confidence, asr_model, status, error, error_stage, metadata_json, stats_json,"
    " sentiment_json, processed_at"
)

# per-call rows replaced whole when a call is (re)processed; item_results (automatic only:
# reviewers write to qa.reviews) and call_scores keep other rubric versions (`_write_scores`)
CALL_TABLES = ("utterances", "words", "speech_turns", "pii_redactions", "call_metrics", "call_events", "call_profiles",
               "search_tokens")

# the last two: another thread of this process is opening the file, or has it open with
# another read_only flag (DuckDB shares one instance per file within a process)
LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "lock on file", "different configuration",
                "Unique file handle conflict")


def sibling_path(db: str | Path, kind: str) -> Path:
    """A file beside the store for another writer: `callqa.duckdb` -> `callqa.<kind>.duckdb`."""
    db = Path(db)
    return db.with_name(f"{db.stem}.{kind}{db.suffix or '.duckdb'}")


_reading = threading.local()  # per thread: file -> the connection of an open `Store.reading()` block


def file_versions(*paths: Path) -> tuple:
    """(mtime_ns, size) of each file and its DuckDB WAL (None when absent): changes whenever one is written, so
    it keys caches that must never be older than the last write."""
    out = []
    for path in paths:
        for p in (path, path.with_name(path.name + ".wal")):
            try:
                st = p.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
    return tuple(out)


def _shared() -> dict:
    if not hasattr(_reading, "cons"):
        _reading.cons = {}
    return _reading.cons


def _schema_version(con) -> int | None:
    """The version a store was written with (None: a new file; 1: tables without a version row)."""
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        tables = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'calls'").fetchone()[0]
        return 1 if tables else None
    return int(rows[0][0]) if rows else 1


class StoreBusy(RuntimeError):
    """Another process kept the database locked for longer than the retry budget."""


def lock_holder(exc: Exception) -> str:
    """Who holds the lock, from DuckDB's message ("... held in /usr/bin/python3 (PID 41)") and that
    process's command line when it is readable: "PID 41: duckdb -readonly callqa.duckdb"."""
    import re

    m = re.search(r"held in (.+?) \(PID (\d+)\)", str(exc))
    if not m:
        return "holder unknown"
    try:
        cmd = Path(f"/proc/{m.group(2)}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = ""
    return f"PID {m.group(2)}: {cmd[:160] or m.group(1)}"


def _is_lock_error(exc: Exception) -> bool:
    return any(m in str(exc) for m in LOCK_MARKERS)


def _rollback(con) -> None:
    """Roll back, never hiding the error that made us roll back (on a full disk DuckDB may already
    have aborted the transaction, and "cannot rollback - no transaction is active" would replace
    "No space left on device")."""
    try:
        con.execute("ROLLBACK")
    except Exception:
        pass


class Store:
    """A DuckDB file accessed through short-lived connections."""

    def __init__(self, path: str | Path, timeout_s: float = 60.0, read_timeout_s: float = 15.0):
        self.path = Path(path)
        self.timeout_s = timeout_s  # writers wait longer: a batch must not drop a call
        self.read_timeout_s = read_timeout_s  # a page should say "busy" rather than hang

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Let the reads inside the block share one read-only connection (opening one costs ~25 ms).

        For a handful of reads that make one answer (a page of calls, a call's timeline); the
        connection is closed at the end of the block, so the writer is held off no longer than that.
        """
        shared = _shared()
        key = str(self.path)
        if key in shared or not self.path.exists():
            yield
            return
        with self.connect(read_only=True) as con:
            shared[key] = con
            try:
                yield
            finally:
                shared.pop(key, None)

    @contextmanager
    def sharing(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Let the reads inside the block use `con`, an open (write) connection to this file: a check and
        the write it guards see the same transaction, and no second connection is opened."""
        shared = _shared()
        key = str(self.path)
        before = shared.get(key)
        shared[key] = con
        try:
            yield
        finally:
            if before is None:
                shared.pop(key, None)
            else:
                shared[key] = before

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open, yield, close; retry with jittered backoff while the file is locked elsewhere."""
        budget = self.read_timeout_s if read_only else self.timeout_s
        deadline = time.monotonic() + budget
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    if _is_lock_error(exc):
                        busy = StoreBusy(
                            f"{self.path} stayed locked by another process for {budget:.0f} s ({lock_holder(exc)})")
                        busy.holder = lock_holder(exc)
                        raise busy from exc
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 1.6, 0.5)
        try:
            # no progress bar: long reads would otherwise draw on the CLI's and dashboard's stderr
            con.execute("SET enable_progress_bar = false")
            yield con
        finally:
            con.close()

    def init(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            before = _schema_version(con)
            for ddl in DDL:
                con.execute(ddl)
            if before is not None and before < 3:  # upgrade in place: index the calls stored so far
                con.execute("BEGIN TRANSACTION")
                try:
                    text_index.rebuild(con)
                    con.execute("COMMIT")
                except Exception:
                    _rollback(con)
                    raise
            con.execute(
                "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(SCHEMA_VERSION)],
            )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Run a read query on a short read-only connection (fully fetched)."""
        if not self.path.exists():
            return []
        shared = _shared().get(str(self.path))
        if shared is not None:
            return shared.execute(sql, params or []).fetchall()
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def query_df(self, sql: str, params: list[Any] | None = None) -> "pd.DataFrame":
        if not self.path.exists():
            import pandas as pd

            return pd.DataFrame()
        shared = _shared().get(str(self.path))
        if shared is not None:
            return shared.execute(sql, params or []).fetchdf()
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchdf()

    # --- idempotence -------------------------------------------------------------------
    def find_by_sha(self, sha: str) -> tuple[str, str] | None:
        """(call_id, status) of the call stored for this audio content, if any."""
        rows = self.query("SELECT call_id, status FROM calls WHERE content_sha256 = ? ORDER BY status = 'ok' DESC", [sha])
        return (rows[0][0], rows[0][1]) if rows else None

    def find_call(self, call_id: str) -> tuple[str, str] | None:
        """(content_sha256, status) of a stored call id, if any."""
        rows = self.query("SELECT content_sha256, status FROM calls WHERE call_id = ?", [call_id])
        return (rows[0][0], rows[0][1]) if rows else None

    # --- writes ------------------------------------------------------------------------
    def save_call(self, result) -> None:
        """Replace everything stored for `result.call_id` in one transaction (auto rows only)."""
        meta = result.metadata
        call_row = [
            result.call_id, str(result.source_path), result.content_sha256, meta.agent_id, meta.agent_name,
            meta.customer_id, meta.started_at, meta.direction, meta.queue, result.duration_s, result.language,
            result.language_probability, result.channels, result.source_sample_rate, result.codec,
            result.diarization_method, result.role_method, result.role_confidence, result.asr_model,
            getattr(result, "status", "ok"), getattr(result, "status_reason", None),
            getattr(result, "status_stage", None), meta.model_dump_json(), json.dumps(result.stats, ensure_ascii=False),
            json.dumps(result.sentiment) if result.sentiment is not None else None,
        ]
        utt_rows = [
            [result.call_id, u.idx, u.speaker, u.role, u.start, u.end, u.text, u.confidence,
             u.sentiment_label, u.sentiment_score, u.sentiment_polarity]
            for u in result.utterances
        ]
        word_rows = []
        for u in result.utterances:
            for w in u.words:
                word_rows.append([result.call_id, len(word_rows), u.idx, w.start, w.end, w.text, w.probability])
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                # scores under other rubric versions stay: they are kept per rubric id + version
                for table in CALL_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE call_id = ?", [result.call_id])
                con.execute("DELETE FROM calls WHERE call_id = ?", [result.call_id])
                con.execute(f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({', '.join(['?'] * 25)}, now())", call_row)
                if utt_rows:
                    con.executemany(f"INSERT INTO utterances ({UTTERANCE_COLUMNS}) VALUES ({', '.join(['?'] * 11)})", utt_rows)
                    con.execute(text_index.index_sql("u.call_id = ?"), [result.call_id])
                if word_rows:
                    con.executemany("INSERT INTO words VALUES (?, ?, ?, ?, ?, ?, ?)", word_rows)
                pii_rows = [
                    [result.call_id, i, p.kind, p.start_s, p.end_s, p.masked, p.checksum_valid]
                    for i, p in enumerate(result.pii)
                ]
                if pii_rows:
                    con.executemany("INSERT INTO pii_redactions VALUES (?, ?, ?, ?, ?, ?, ?)", pii_rows)
                turn_rows = [[result.call_id, i, *row] for i, row in enumerate(result.activity)]
                if turn_rows:
                    con.executemany("INSERT INTO speech_turns VALUES (?, ?, ?, ?, ?, ?)", turn_rows)
                self._write_analysis(con, result)
                self._write_scores(con, result.call_id, result.item_results, result.call_score)
                con.execute("COMMIT")
            except Exception:
                _rollback(con)
                raise

    def _write_analysis(self, con, result) -> None:
        """Metrics, timed events and customer profiles of a call (rows already deleted by the caller)."""
        metric_rows = [[result.call_id, k, float(v)] for k, v in sorted(result.metrics.items()) if v is not None]
        if metric_rows:
            con.executemany("INSERT INTO call_metrics VALUES (?, ?, ?)", metric_rows)
        event_rows = [
            [result.call_id, i, e.kind, e.start_s, e.end_s, json.dumps(e.details, ensure_ascii=False)]
            for i, e in enumerate(result.events)
        ]
        if event_rows:
            con.executemany("INSERT INTO call_events VALUES (?, ?, ?, ?, ?, ?)", event_rows)
        profile_rows = [
            [result.call_id, p.profile, p.confidence, json.dumps(p.reasons, ensure_ascii=False), p.strategy]
            for p in result.profiles
        ]
        if profile_rows:
            con.executemany("INSERT INTO call_profiles VALUES (?, ?, ?, ?, ?)", profile_rows)

    def _write_scores(self, con, call_id: str, items, score) -> None:
        if score is None:
            return
        con.execute(
            "DELETE FROM item_results WHERE call_id = ? AND rubric_id = ? AND rubric_version = ? AND source = 'auto'",
            [call_id, score.rubric_id, score.rubric_version],
        )
        con.execute(
            "DELETE FROM call_scores WHERE call_id = ? AND rubric_id = ? AND rubric_version = ?",
            [call_id, score.rubric_id, score.rubric_version],
        )
        rows = []
        for r in items:
            rows.append([
                call_id, score.rubric_id, score.rubric_version, r.section_id, r.item_id, r.outcome, r.score,
                r.max_score, r.critical, r.method, r.similarity, r.reason, r.evidence_text, r.evidence_speaker,
                r.evidence_start_s, r.evidence_end_s, r.source, None,
            ])
        if rows:
            con.executemany(f"INSERT INTO item_results VALUES ({', '.join(['?'] * 18)}, now())", rows)
        con.execute(
            "INSERT INTO call_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            [call_id, score.rubric_id, score.rubric_version, score.score_pct, score.auto_failed, score.band,
             score.reason, json.dumps(score.sections)],
        )

    def save_scores(self, call_id: str, items, score) -> None:
        """Store a (re-)scoring of an already transcribed call under its rubric id + version."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                self._write_scores(con, call_id, items, score)
                con.execute("COMMIT")
            except Exception:
                _rollback(con)
                raise

    def save_scores_many(self, scored: list[tuple[str, list, Any]]) -> None:
        """Store many (call_id, items, score) scorings in one transaction, set-based (same rows as `save_scores`)."""
        scored = [s for s in scored if s[2] is not None]
        if not scored:
            return
        import pyarrow as pa

        cols: dict[str, list] = {k: [] for k in (
            "call_id", "rubric_id", "rubric_version", "section_id", "item_id", "outcome", "score", "max_score",
            "critical", "method", "similarity", "reason", "evidence_text", "evidence_speaker", "evidence_start_s",
            "evidence_end_s", "source")}
        scores: dict[str, list] = {k: [] for k in (
            "call_id", "rubric_id", "rubric_version", "score_pct", "auto_failed", "band", "reason", "sections_json")}
        for call_id, items, score in scored:
            for r in items:
                for k, v in (("call_id", call_id), ("rubric_id", score.rubric_id),
                             ("rubric_version", score.rubric_version), ("section_id", r.section_id),
                             ("item_id", r.item_id), ("outcome", r.outcome), ("score", r.score),
                             ("max_score", r.max_score), ("critical", r.critical), ("method", r.method),
                             ("similarity", r.similarity), ("reason", r.reason), ("evidence_text", r.evidence_text),
                             ("evidence_speaker", r.evidence_speaker), ("evidence_start_s", r.evidence_start_s),
                             ("evidence_end_s", r.evidence_end_s), ("source", r.source)):
                    cols[k].append(v)
            for k, v in (("call_id", call_id), ("rubric_id", score.rubric_id), ("rubric_version", score.rubric_version),
                         ("score_pct", score.score_pct), ("auto_failed", score.auto_failed), ("band", score.band),
                         ("reason", score.reason), ("sections_json", json.dumps(score.sections))):
                scores[k].append(v)
        types = {"score": pa.float64(), "max_score": pa.float64(), "similarity": pa.float64(), "critical": pa.bool_(),
                 "evidence_start_s": pa.float64(), "evidence_end_s": pa.float64(), "score_pct": pa.float64(),
                 "auto_failed": pa.bool_()}
        items_tbl = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in cols.items()})
        scores_tbl = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in scores.items()})
        with self.connect() as con:
            con.register("new_items", items_tbl)
            con.register("new_scores", scores_tbl)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "DELETE FROM item_results i USING new_scores s WHERE i.call_id = s.call_id"
                    " AND i.rubric_id = s.rubric_id AND i.rubric_version = s.rubric_version AND i.source = 'auto'")
                con.execute(
                    "DELETE FROM call_scores c USING new_scores s WHERE c.call_id = s.call_id"
                    " AND c.rubric_id = s.rubric_id AND c.rubric_version = s.rubric_version")
                con.execute(
                    "INSERT INTO item_results SELECT call_id, rubric_id, rubric_version, section_id, item_id, outcome,"
                    " score, max_score, critical, method, similarity, reason, evidence_text, evidence_speaker,"
                    " evidence_start_s, evidence_end_s, source, NULL, now() FROM new_items")
                con.execute("INSERT INTO call_scores SELECT *, now() FROM new_scores")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def record_failure(
        self, source_path: str, sha: str | None, call_id: str | None, stage: str, error: str, meta=None
    ) -> None:
        """Log a failed attempt; mark the call failed only if nothing good is stored for it.

        `meta` (a `CallMetadata`, when it was read before the failure) fills the agent, time
        and queue columns so failed calls can be filtered like the others.
        """
        m = [getattr(meta, f, None) for f in ("agent_id", "agent_name", "started_at", "direction", "queue", "language")]
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("INSERT INTO failures VALUES (?, ?, ?, ?, ?, now())", [source_path, sha, call_id, stage, error])
                if call_id:
                    existing = con.execute("SELECT status FROM calls WHERE call_id = ?", [call_id]).fetchall()
                    if not existing:
                        con.execute(
                            "INSERT INTO calls (call_id, source_path, content_sha256, agent_id, agent_name, started_at,"
                            " direction, queue, language, status, error, error_stage, processed_at)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'failed', ?, ?, now())",
                            [call_id, source_path, sha, *m, error, stage],
                        )
                    elif existing[0][0] == "failed":
                        con.execute(
                            "UPDATE calls SET source_path = ?, content_sha256 = ?, error = ?, error_stage = ?, processed_at = now()"
                            " WHERE call_id = ?",
                            [source_path, sha, error, stage, call_id],
                        )
                con.execute("COMMIT")
            except Exception:
                _rollback(con)
                raise

