"""`callqa users|audit|delete|retention|dashboard`: who may see what, what they did, erasure, the server.

  callqa users add IDENTITY --role admin|team_lead|reviewer|agent [--agent-id ID] [--team T]...
                   [--queue Q]... [--grant unmask_audio] [--name NAME]
  callqa users list | remove IDENTITY | set-role IDENTITY ROLE [--agent-id ID]
  callqa audit [--user ID] [--call CALL_ID] [--since 2026-01-31] [--action A] [--limit N] [--verify]
  callqa delete CALL_ID... [--with-audio]
  callqa retention [--days N] [--action delete|anonymise] [--dry-run]
  callqa dashboard [--db FILE] [--auth none|proxy|oidc] [--host 127.0.0.1] [--port 8501] [--secrets FILE]

The operator running these commands is the local admin (file permissions on the store decide who
that is); every change is written to the audit trail under the operating-system user's name.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _db(args: argparse.Namespace) -> str:
    from qa.config import load_settings

    return str(args.db or load_settings(Path(args.config) if getattr(args, "config", None) else None).db)


def _operator():
    """The CLI's viewer: the local admin, named after the operating-system user."""
    from dataclasses import replace

    from qa.access.model import LOCAL_ADMIN

    try:
        who = getpass.getuser()
    except Exception:  # no user name (containers)
        who = "local"
    return replace(LOCAL_ADMIN, identity=who, display_name=f"{who} (cli)", auth="cli")


def viewer_as(db: str | Path, identity: str | None):
    """The viewer a CLI command runs as: `--as IDENTITY` (their role and scope), else the operator; None: unknown user."""
    if not identity:
        return _operator()
    from qa.access.directory import Directory

    return Directory(db).viewer(identity, auth="cli")


def audit_cli(db: str | Path, action: str, call_id: str | None = None, target: str | None = None, **detail) -> None:
    """One audit row for a CLI action, signed with the operating-system user's name."""
    from qa.access.audit import AuditLog

    AuditLog(db).record(_operator(), action, call_id, target, **detail)


def _table(rows: list[dict], headers: list[tuple[str, str]]) -> None:
    from pipelines.cli import print_table

    print_table(rows, headers)


def cmd_users(args: argparse.Namespace) -> int:
    from qa.access.audit import AuditLog
    from qa.access.directory import Directory, UserError

    db, me = _db(args), _operator()
    directory, audit = Directory(db), AuditLog(db)
    try:
        if args.users_command == "add":
            user = directory.add(args.identity, args.role, args.agent_id, args.name, args.team, args.queue, args.grant)
            audit.record(me, "user_add", target=user.identity, role=user.role, agent_id=user.agent_id,
                         teams=list(user.teams), queues=list(user.queues), grants=list(user.grants))
            print(f"Added {user.identity} as {user.role}.")
        elif args.users_command == "set-role":
            user = directory.set_role(args.identity, args.role, args.agent_id)
            audit.record(me, "user_set_role", target=user.identity, role=user.role)
            print(f"{user.identity} is now {user.role}.")
        elif args.users_command == "remove":
            if not directory.remove(args.identity):
                print(f"No user {args.identity!r}.", file=sys.stderr)
                return EXIT_FAILED
            audit.record(me, "user_remove", target=args.identity)
            print(f"Removed {args.identity}.")
        else:
            users = directory.list()
            _table([{"identity": u.identity, "role": u.role, "agent": u.agent_id, "name": u.display_name,
                     "teams": ", ".join(u.teams), "queues": ", ".join(u.queues), "grants": ", ".join(u.grants)}
                    for u in users],
                   [("identity", "identity"), ("role", "role"), ("agent", "agent id"), ("name", "name"),
                    ("teams", "teams"), ("queues", "queues"), ("grants", "grants")])
            print(f"{len(users)} user(s) in {directory.file.path}.")
    except UserError as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def cmd_audit(args: argparse.Namespace) -> int:
    from dashboards.fmt import when
    from qa.access.audit import AuditLog

    log = AuditLog(_db(args))
    if args.verify:
        bad = log.verify()
        print("audit chain intact" if not bad else f"audit rows changed or removed: {', '.join(map(str, bad))}")
        return EXIT_OK if not bad else EXIT_FAILED
    try:
        since = _since(args.since)
    except ValueError:
        print(f"callqa: --since wants a date or time such as 2026-01-31 or 2026-01-31T08:00, got {args.since!r}",
              file=sys.stderr)
        return EXIT_USAGE
    rows = log.rows(args.user, args.call, since, args.action, args.limit)
    _table([{"seq": r.seq, "at": when(r.at), "actor": r.actor, "role": r.role, "action": r.action,
             "call": r.call_id, "target": r.target,
             "detail": ", ".join(f"{k}={v}" for k, v in r.detail.items() if k not in ("reason",))} for r in rows],
           [("seq", "#"), ("at", "when"), ("actor", "who"), ("role", "role"), ("action", "action"), ("call", "call"),
            ("target", "target"), ("detail", "detail")])
    print(f"{len(rows)} row(s).")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    from qa.access.erase import delete_calls
    from qa.store import StoreBusy

    try:
        results = delete_calls(_db(args), _operator(), args.call_ids, with_audio=args.with_audio)
    except StoreBusy as exc:
        print(f"callqa: {exc}; try again when the batch is done", file=sys.stderr)
        return EXIT_FAILED
    for r in results:
        if r.found:
            audio = f"; removed {', '.join(r.audio_removed)}" if r.audio_removed else ""
            print(f"Deleted {r.call_id}: {sum(r.rows.values())} row(s), {r.reviews} review(s){audio}.")
        else:
            print(f"{r.call_id}: not in the store ({r.reviews} leftover review(s) removed).")
    return EXIT_OK if all(r.found for r in results) else EXIT_FAILED


def cmd_retention(args: argparse.Namespace) -> int:
    from qa.access.erase import calls_older_than
    from qa.config import load_settings

    settings = load_settings(Path(args.config) if getattr(args, "config", None) else None)
    days, action = args.days or settings.retention_days, args.action or settings.retention_action
    if not days:
        print("callqa: set retention_days in callqa.toml (or pass --days)", file=sys.stderr)
        return EXIT_USAGE
    db = _db(args)
    if args.dry_run:
        old = calls_older_than(db, days)
        print(f"{len(old)} call(s) older than {days} days would be {action}d: {', '.join(old[:20])}"
              + (" ..." if len(old) > 20 else ""))
        return EXIT_OK
    from pipelines.retention import retention_flow

    summary = retention_flow(db=db, days=days, action=action)
    print(f"Retention ({action}, older than {days} days): {summary}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from pipelines import prefect_env
    from qa.access.identity import is_loopback
    from qa.config import load_settings

    settings = load_settings(Path(args.config) if getattr(args, "config", None) else None)
    auth, host = args.auth or settings.auth, args.host or settings.dashboard_host
    if auth in ("none", "proxy") and not is_loopback(host):
        print(f"callqa: auth = {auth} trusts whoever connects, so it only listens on 127.0.0.1 (asked: {host}); "
              "use --auth oidc, or a reverse proxy (README, Access)", file=sys.stderr)
        return EXIT_USAGE
    db = str(Path(args.db or os.environ.get("CALLQA_DB") or settings.db).resolve())
    server = prefect_env.PROJECT_ROOT / "dashboards" / "server.py"
    env = {**os.environ, "CALLQA_DB": db, "CALLQA_AUTH": auth, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    cmd = [sys.executable, "-m", "streamlit", "run", str(server), "--server.headless", "true",
           "--server.address", host, "--server.port", str(args.port), "--server.enableStaticServing", "false",
           "--browser.gatherUsageStats", "false",
           # a served dashboard does not watch its files (no "File change. Rerun" mid-review); buttons are
           # blue, so red on a page means a failure or an auto-fail only
           "--server.fileWatcherType", "none", "--theme.primaryColor", "#1c6dd0",
           # a set serverAddress keeps Streamlit from asking checkip.amazonaws.com for an "External URL"
           "--browser.serverAddress", "localhost" if is_loopback(host) else host]
    if args.secrets:
        cmd += ["--secrets.files", str(Path(args.secrets).resolve())]
    cmd += ["--", "--db", db]
    print(f"Dashboard on http://{host}:{args.port} (store {db}, auth = {auth}); Ctrl-C to stop.", flush=True)
    os.execve(sys.executable, cmd, env)  # become the server: a stop signal reaches Streamlit itself
    return EXIT_OK  # not reached


def register(sub) -> None:
    """Add the access subcommands to the `callqa` parser."""
    p = sub.add_parser("users", help="who may sign in to the dashboard, with which role")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    us = p.add_subparsers(dest="users_command", required=True)
    a = us.add_parser("add", help="add a user (identity = the e-mail or subject the IdP sends, or the proxy's user)")
    a.add_argument("identity")
    a.add_argument("--role", required=True, choices=["admin", "team_lead", "reviewer", "agent"])
    a.add_argument("--agent-id", help="the agent_id on this agent's calls (agents)")
    a.add_argument("--team", action="append", help="team led (team_lead) or joined (agent); repeatable")
    a.add_argument("--queue", action="append", help="limit a reviewer to these queues; repeatable")
    a.add_argument("--grant", action="append", choices=["unmask_audio"], help="extra right; audited when used")
    a.add_argument("--name", help="display name (signs their reviews)")
    a.add_argument("--db", help=argparse.SUPPRESS)
    r = us.add_parser("set-role", help="change a user's role")
    r.add_argument("identity")
    r.add_argument("role", choices=["admin", "team_lead", "reviewer", "agent"])
    r.add_argument("--agent-id")
    r.add_argument("--db", help=argparse.SUPPRESS)
    r = us.add_parser("remove", help="remove a user")
    r.add_argument("identity")
    r.add_argument("--db", help=argparse.SUPPRESS)
    r = us.add_parser("list", help="list users")
    r.add_argument("--db", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("audit", help="the audit trail: who opened, played, exported, reviewed, deleted what")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.add_argument("--user", help="only this identity")
    p.add_argument("--call", help="only this call id")
    p.add_argument("--since", help="from this date/time (ISO 8601, UTC unless an offset is given)")
    p.add_argument("--action", help="only this action (open_call, play_audio, play_original_audio, review, ...)")
    p.add_argument("--limit", type=int, help="the newest N rows")
    p.add_argument("--verify", action="store_true", help="check the hash chain (rows edited or removed by hand)")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("delete", help="remove calls and everything derived from them (audited)")
    p.add_argument("call_ids", nargs="+")
    p.add_argument("--with-audio", action="store_true", help="also delete the recording and its JSON sidecar")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("retention", help="delete or anonymise calls older than retention_days (a Prefect flow)")
    p.add_argument("--days", type=int, help="override retention_days")
    p.add_argument("--action", choices=["delete", "anonymise"], help="override retention_action")
    p.add_argument("--dry-run", action="store_true", help="list the calls, change nothing")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.set_defaults(func=cmd_retention)

    p = sub.add_parser("dashboard", help="open the Streamlit dashboard (sign-in per `auth`)")
    p.add_argument("--db")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", help="listen address (default 127.0.0.1; others need --auth oidc)")
    p.add_argument("--auth", choices=["none", "proxy", "oidc"], help="override the `auth` setting")
    p.add_argument("--secrets", help="Streamlit secrets.toml with the [auth] section (oidc)")
    p.set_defaults(func=cmd_dashboard)
