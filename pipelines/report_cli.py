"""`callqa report` and `callqa schedule-reports`: coaching reports on demand and on a schedule.

  callqa report --agent ID | --team ID --since DATE --until DATE --format html|pdf|csv --out FILE
                [--rubric ID] [--as IDENTITY] [--db FILE]
  callqa schedule-reports --cron "0 6 * * 1" --out DIR [--timezone Europe/Istanbul] [--name weekly]
                [--pool callqa] [--format pdf]... [--db FILE]

`--as` produces the report as that user would get it (an agent: only their own; a team lead: their
teams' and those teams' agents'); without it the operator is the local admin. Every report
generated, and every refusal, is written to the audit trail.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want a date such as 2026-01-31, got {text!r}") from None


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.access_cli import _db, viewer_as
    from qa.access.model import AccessDenied
    from qa.coaching.generate import generate

    db = _db(args)
    viewer = viewer_as(db, args.as_identity)
    if viewer is None:
        print(f"callqa: no user {args.as_identity!r} (callqa users list)", file=sys.stderr)
        return EXIT_USAGE
    fmt = args.format or (args.out.rsplit(".", 1)[-1].lower() if "." in args.out else "html")
    try:
        done = generate(db, viewer, fmt, args.out, agent=args.agent, team=args.team, since=args.since,
                        until=args.until, rubric_id=args.rubric)
    except AccessDenied as exc:
        print(f"callqa: access denied: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    r = done.report
    score = "-" if r.summary["avg_score"] is None else f"{r.summary['avg_score']:.1f}"
    print(f"Wrote {done.path}: {r.kind} {r.subject_id}, {r.since} to {r.until}, {r.summary['calls']} call(s) "
          f"scored with {r.rubric_id or 'no rubric'}, average {score}.")
    if r.other_rubrics:
        print("Not in this report (one rubric per report; use --rubric): "
              + ", ".join(f"{k} ({v} calls)" for k, v in r.other_rubrics.items()))
    return EXIT_OK


def cmd_schedule_reports(args: argparse.Namespace) -> int:
    from pipelines import prefect_env

    prefect_env.configure(verbose=args.verbose)
    from pipelines.access_cli import _db
    from pipelines.report_flow import create_report_deployment
    from pipelines.schedule import ScheduleError

    try:
        dep = create_report_deployment(out_dir=args.out, cron=args.cron, timezone=args.timezone, name=args.name,
                                       pool=args.pool, db=_db(args), formats=args.format or ["pdf"])
    except ScheduleError as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Deployment '{dep.full_name}' ({dep.deployment_id}) runs '{dep.cron}' ({dep.timezone}) "
          f"in work pool '{dep.pool}', writing last week's reports to {dep.parameters['out_dir']}.")
    print(f"Start a worker for it:  prefect worker start --pool {dep.pool}")
    print(f"Run it now:             prefect deployment run '{dep.full_name}'")
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("report", help="a coaching report for one agent or one team (HTML, PDF or CSV; audited)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", help="agent id (the agent_id on their calls)")
    who.add_argument("--team", help="team id (callqa users add ... --team)")
    p.add_argument("--since", required=True, type=_date, help="first day, e.g. 2026-01-01 (UTC)")
    p.add_argument("--until", required=True, type=_date, help="last day, inclusive")
    p.add_argument("--format", choices=["html", "pdf", "csv"], help="default: from the --out extension")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--rubric", help="rubric id (default: the one most of the period's calls were scored with)")
    p.add_argument("--as", dest="as_identity", help="produce it as this user would get it (their scope)")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("schedule-reports", help="a Prefect deployment writing every team's and agent's weekly report")
    p.add_argument("--cron", required=True, help='cron expression, e.g. "0 6 * * 1" (Mondays 06:00)')
    p.add_argument("--out", required=True, help="folder the reports are written to")
    p.add_argument("--timezone", default="UTC", help="IANA time zone of the cron")
    p.add_argument("--name", default="weekly", help="deployment name (default weekly)")
    p.add_argument("--pool", default="callqa", help="Prefect process work pool (created if missing)")
    p.add_argument("--format", action="append", choices=["html", "pdf", "csv"], help="repeatable (default pdf)")
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb, made absolute)")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_schedule_reports)
