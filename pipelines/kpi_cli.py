"""`callqa kpi`: contact-centre KPIs per agent, team or queue over a period, and `callqa kpi refresh`.

  callqa kpi [--agent ID | --team ID | --queue Q] [--since DATE] [--until DATE] [--as-of TIME]
             [--as IDENTITY] [--json] [--db FILE]
  callqa kpi refresh [--db FILE]
  callqa kpi import-csat FILE.csv [--db FILE]     # survey scores that arrive after the call

Days are `display_timezone` days (default: the last 28 days up to today). The figures come through
the scoped data layer: `--as` shows what that user may see.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from pipelines.report_cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _date


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want a time such as 2026-01-31T18:00+03:00, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def lines(label: str, f) -> list[str]:
    a = f.agreement
    agree = (f"n={a.n} MAE {_fmt(a.mae, 2)} Spearman {_fmt(a.spearman, 2)} within 1 pt {_fmt(a.within_one_pct)} %"
             if a.n else "no survey scores")
    return [f"{label}: {f.calls} calls",
            f"  FCR {_fmt(f.fcr_pct)} %  (first contacts {f.first_contacts}: resolved {f.resolved}, not resolved "
            f"{f.not_resolved}, open {f.open}; repeats {f.repeats}; no customer id {f.unknown}"
            + (f"; not yet counted {f.pending}" if f.pending else "") + ")",
            f"  AHT {_fmt(f.aht_s)} s = talk {_fmt(f.talk_s)} + hold {_fmt(f.hold_s)} + after-call "
            f"{_fmt(f.after_call_s)} (n={f.after_call_n}); calls with a hold {_fmt(f.hold_calls_pct)} %",
            f"  response latency mean {_fmt(f.latency_mean_s, 2)} s, max {_fmt(f.latency_max_s, 2)} s; "
            f"waited over the threshold unannounced: {f.long_wait_calls} calls ({_fmt(f.long_wait_pct)} %)",
            f"  survey {_fmt(f.csat_mean, 2)} (n={f.csat_n}); satisfaction ESTIMATE {_fmt(f.estimate_mean, 2)} "
            f"(n={f.estimate_n}); agreement: {agree}"]


def cmd_kpi(args: argparse.Namespace) -> int:
    from pipelines.access_cli import _db, viewer_as
    from qa.access.coaching import team_members, teams_of_agent
    from qa.access.repository import DuckDBRepository
    from qa.config import load_settings
    from qa.kpi.summary import figures, previous_period, rows_for

    db, settings = _db(args), load_settings()
    viewer = viewer_as(db, args.as_identity)
    if viewer is None:
        print(f"callqa: no user {args.as_identity!r} (callqa users list)", file=sys.stderr)
        return EXIT_USAGE
    until = args.until or datetime.now(timezone.utc).date()
    since = args.since or until - timedelta(days=27)
    if until < since:
        print(f"callqa: --until {until} is before --since {since}", file=sys.stderr)
        return EXIT_USAGE
    as_of = args.as_of or datetime.now(timezone.utc)
    agents, team = None, None
    if args.agent:
        agents = (args.agent,)
        team = tuple(sorted({a for t in teams_of_agent(db, args.agent) for a in team_members(db, t)}))
    elif args.team:
        agents = team_members(db, args.team)
        if not agents:
            print(f"callqa: team {args.team!r} has no agents", file=sys.stderr)
            return EXIT_USAGE
    repo, tz, wait = DuckDBRepository(db), settings.display_timezone, settings.wait_unannounced_s
    subject = args.agent or args.team or (f"queue {args.queue}" if args.queue else "all calls")
    out = {subject: figures(rows_for(repo, viewer, since, until, tz, as_of, agents, args.queue), wait)}
    if team:
        out["team"] = figures(rows_for(repo, viewer, since, until, tz, as_of, team, args.queue), wait)
    ps, pu = previous_period(since, until)
    out[f"previous {ps} - {pu}"] = figures(rows_for(repo, viewer, ps, pu, tz, as_of, agents, args.queue), wait)
    if args.json:
        print(json.dumps({"since": str(since), "until": str(until), "timezone": tz, "as_of": as_of.isoformat(),
                          "wait_unannounced_s": wait, **{k: asdict(v) for k, v in out.items()}}, indent=2))
        return EXIT_OK
    print(f"KPIs {since} to {until} ({tz} days), FCR status as of {as_of:%Y-%m-%d %H:%M %Z}; "
          f"long wait = over {wait:g} s without an announcement")
    for label, f in out.items():
        print("\n".join(lines(label, f)))
    return EXIT_OK


def cmd_kpi_refresh(args: argparse.Namespace) -> int:
    from pipelines.access_cli import _db
    from qa.config import load_settings
    from qa.kpi.refresh import KpiConfig, refresh

    db = _db(args)
    out = refresh(db, KpiConfig.from_settings(load_settings()))
    if out is None:
        print(f"callqa: no store at {db}", file=sys.stderr)
        return EXIT_FAILED
    print(f"KPIs refreshed: {out.contacts} contacts ({out.first_contacts} first contacts, {out.unknown_customer} "
          f"without a customer id, {out.frozen} anonymised kept), {out.changed} rows changed, in {out.seconds:.2f} s")
    return EXIT_OK


def cmd_kpi_import_csat(args: argparse.Namespace) -> int:
    from pipelines.access_cli import _db
    from qa.kpi.surveys import import_csat

    try:
        out = import_csat(_db(args), args.file)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for line, why in out.rejected:
        print(f"{args.file}:{line}: {why}", file=sys.stderr)
    print(f"Survey scores stored: {out.stored} ({out.unknown_calls} for calls not in the store yet; they count once "
          f"stored); rejected rows: {len(out.rejected)}")
    return EXIT_OK if not out.rejected else EXIT_FAILED


def register(sub) -> None:
    p = sub.add_parser("kpi", help="contact-centre KPIs (FCR, AHT, hold, waits, satisfaction) per agent/team/queue")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--agent", help="agent id (FCR: the first contacts this agent took)")
    who.add_argument("--team", help="team id (callqa users add ... --team)")
    p.add_argument("--queue", help="only calls of this queue")
    p.add_argument("--since", type=_date, help="first day (display_timezone), default 27 days before --until")
    p.add_argument("--until", type=_date, help="last day, inclusive (default today)")
    p.add_argument("--as-of", dest="as_of", type=_instant, help="FCR status as of this time (default now)")
    p.add_argument("--as", dest="as_identity", help="as this user would see it (their scope)")
    p.add_argument("--json", action="store_true", help="every figure as JSON")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.set_defaults(func=cmd_kpi)
    ksub = p.add_subparsers(dest="kpi_command")
    r = ksub.add_parser("refresh", help="recompute the per-call KPI rows now (also done after every batch)")
    r.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    r.set_defaults(func=cmd_kpi_refresh)
    r = ksub.add_parser("import-csat", help="post-call survey scores from a CSV (columns call_id, csat 1-5)")
    r.add_argument("file", help="CSV file with a header: call_id,csat")
    r.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    r.set_defaults(func=cmd_kpi_import_csat)
