"""`callqa queue|calibration`: the review queue, its sampling rules, and calibration figures.

  callqa queue fill [--since D] [--until D] [--as USER]
  callqa queue list [--user ID | --all] [--status to_review|in_review|done] [--as USER]
  callqa queue rules show [--team T] | set [--team T] [--per-agent-week N] [--seed N] [--auto-fail yes|no]
                          [--roles-uncertain-below X|off] [--sentiment-falling yes|no] [--near-threshold yes|no]
                          [--near-margin X] [--as USER]
  callqa calibration report [--since D] [--until D] [--rubric ID] [--top N] [--as USER]
  callqa calibration session create NAME --call C... --reviewer ID... | list | close ID | report ID  [--as USER]

Without `--as` the operator is the local admin (named after the OS user); with it, the command
runs as that user would (their role and scope). Every change is audited.
"""

from __future__ import annotations

import argparse
import sys

from pipelines.report_cli import _date

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _UnknownUser(Exception):
    pass


def _context(args: argparse.Namespace):
    """(repository, viewer); an unknown --as user is a usage error."""
    from pipelines.access_cli import _db, viewer_as
    from qa.access.repository import DuckDBRepository

    db = _db(args)
    viewer = viewer_as(db, getattr(args, "as_identity", None))
    if viewer is None:
        raise _UnknownUser(f"no user {args.as_identity!r} (callqa users list)")
    return DuckDBRepository(db), viewer


def _run(fn, args: argparse.Namespace) -> int:
    """Run a command body; refusals exit 1, bad input 2, with one readable line."""
    from qa.access.model import AccessDenied

    try:
        return fn(args)
    except _UnknownUser as exc:
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AccessDenied as exc:
        print(f"callqa: access denied: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # ReviewError, RulesError, CalibrationError, ...
        print(f"callqa: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _table(rows: list[dict], headers: list[tuple[str, str]]) -> None:
    from pipelines.cli import print_table

    print_table(rows, headers)


# --- queue -------------------------------------------------------------------------------
def _queue_fill(args: argparse.Namespace) -> int:
    from qa.review.desk import ReviewDesk

    repo, viewer = _context(args)
    r = ReviewDesk(repo).fill(viewer, args.since, args.until)
    print(f"Review queue: {r.added} call(s) added, {r.updated} gained reasons, {r.unchanged} already queued.")
    for code, n in sorted(r.by_reason.items()):
        print(f"  {code}: {n}")
    for who, n in sorted(r.by_assignee.items()):
        print(f"  -> {who}: {n}")
    return EXIT_OK


def _queue_list(args: argparse.Namespace) -> int:
    from qa.review.desk import ReviewDesk

    repo, viewer = _context(args)
    assignee = None if args.all else (args.user or "me")
    entries = ReviewDesk(repo).queue(viewer, args.status, assignee)
    _table([{"call_id": e.call_id, "assignee": e.assignee, "status": e.status, "agent": e.agent,
             "score": None if e.score_pct is None else f"{e.score_pct:.1f}", "why": "; ".join(e.reasons)}
            for e in entries],
           [("call_id", "call"), ("assignee", "reviewer"), ("status", "status"), ("agent", "agent"),
            ("score", "score %"), ("why", "why it is in the queue")])
    print(f"{len(entries)} call(s)")
    return EXIT_OK


def _yes_no(text: str) -> bool:
    if text.lower() in ("yes", "on", "true", "1"):
        return True
    if text.lower() in ("no", "off", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"want yes or no, got {text!r}")


def _queue_rules(args: argparse.Namespace) -> int:
    from qa.review.desk import ReviewDesk
    from qa.review.sampling import SamplingRules

    repo, viewer = _context(args)
    desk = ReviewDesk(repo)
    current = desk.rules(viewer, args.team)
    if args.rules_command == "set":
        data = current.model_dump()
        data["team"] = args.team
        for field in ("per_agent_week", "seed", "auto_fail", "sentiment_falling", "near_threshold", "near_margin"):
            value = getattr(args, field)
            if value is not None:
                data[field] = value
        if args.roles_uncertain_below is not None:
            data["roles_uncertain_below"] = None if args.roles_uncertain_below == "off" else float(args.roles_uncertain_below)
        current = desk.set_rules(viewer, SamplingRules.parse(data))
        print(f"Saved sampling rules for {args.team or 'every team (default)'}.")
    for key, value in current.model_dump().items():
        print(f"  {key}: {value}")
    return EXIT_OK


# --- calibration -------------------------------------------------------------------------
def _calibration_report(args: argparse.Namespace) -> int:
    from qa.access.audit import AuditLog
    from qa.review.calibration import agreement

    repo, viewer = _context(args)
    rep = agreement(repo, viewer, args.since, args.until, args.rubric)
    AuditLog(repo.db).record(viewer, "calibration_report", None, "ai_vs_reviewers", calls=rep.calls, pairs=rep.pairs)
    k = "-" if rep.overall_kappa is None else f"{rep.overall_kappa:.2f}"
    print(f"AI vs reviewers: {rep.calls} reviewed call(s), {rep.pairs} item outcomes compared, Cohen's kappa {k}.")
    _table([{"item": f"{i.item_title} ({i.item_id})", "pairs": i.pairs, "agree": f"{100 * i.agree / i.pairs:.0f} %",
             "kappa": "-" if i.kappa is None else f"{i.kappa:.2f}", "p2f": i.pass_to_fail, "f2p": i.fail_to_pass,
             "other": i.other_changes} for i in rep.items],
           [("item", "item"), ("pairs", "compared"), ("agree", "agree"), ("kappa", "kappa"),
            ("p2f", "pass->fail"), ("f2p", "fail->pass"), ("other", "n/a changes")])
    if rep.ranking:
        print("\nItems that most need tuning:")
        for n, i in enumerate(rep.ranking[: args.top], 1):
            print(f"  {n}. {i.item_title} ({i.item_id}): {i.advice}")
    return EXIT_OK


def _session(args: argparse.Namespace) -> int:
    from qa.review.calibration import CalibrationSessions

    repo, viewer = _context(args)
    sessions = CalibrationSessions(repo)
    cmd = args.session_command
    if cmd == "create":
        s = sessions.create(viewer, args.name, args.call, args.reviewer)
        print(f"Session {s.session_id} ({s.name}): {len(s.call_ids)} call(s), reviewers {', '.join(s.reviewers)}.")
    elif cmd == "list":
        _table([{"id": s.session_id, "name": s.name, "by": s.created_by, "calls": len(s.call_ids),
                 "reviewers": ", ".join(s.reviewers), "state": "open" if s.is_open else "closed"}
                for s in sessions.list(viewer)],
               [("id", "session"), ("name", "name"), ("by", "started by"), ("calls", "calls"),
                ("reviewers", "reviewers"), ("state", "state")])
    elif cmd == "close":
        s = sessions.close(viewer, args.session_id)
        print(f"Session {s.name} closed: scores are visible to its members now.")
    elif cmd == "score":
        sessions.score(viewer, args.session_id, args.call_id, args.item_id, args.outcome)
        print("Saved (blind: not applied to the call, hidden from the others until the session closes).")
    else:
        r = sessions.report(viewer, args.session_id)
        share = "-" if r.unanimous_share is None else f"{100 * r.unanimous_share:.0f} %"
        print(f"Session {r.session.name}: all reviewers agreed on {share} of the items they scored.")
        _table([{"a": a, "b": b, "kappa": "-" if k is None else f"{k:.2f}", "n": n} for a, b, k, n in r.pairwise],
               [("a", "reviewer"), ("b", "reviewer"), ("kappa", "kappa"), ("n", "items both scored")])
        for who, n in r.missing.items():
            if n:
                print(f"  {who} left {n} item(s) unscored")
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("queue", help="the review queue: fill it by the sampling rules, list it, set the rules")
    qs = p.add_subparsers(dest="queue_command", required=True)
    f = qs.add_parser("fill", help="add the calls the sampling rules pick (idempotent)")
    f.add_argument("--since", type=_date, help="first day (default: 6 days before --until)")
    f.add_argument("--until", type=_date, help="last day (default: the day of the latest call)")
    f.set_defaults(func=lambda a: _run(_queue_fill, a))
    lst = qs.add_parser("list", help="a reviewer's queue (default: yours)")
    lst.add_argument("--user", help="this reviewer's queue (team leads, admins)")
    lst.add_argument("--all", action="store_true", help="every queued call you may see")
    lst.add_argument("--status", choices=["to_review", "in_review", "done"])
    lst.set_defaults(func=lambda a: _run(_queue_list, a))
    r = qs.add_parser("rules", help="show or set the sampling rules (team leads: their teams; admins: any)")
    rs = r.add_subparsers(dest="rules_command", required=True)
    for name in ("show", "set"):
        x = rs.add_parser(name)
        x.add_argument("--team", help="the team's own rules (default: the rules for every team)")
        if name == "set":
            x.add_argument("--per-agent-week", type=int, help="random calls per agent per week")
            x.add_argument("--seed", type=int, help="seed of the random sample (same seed, same calls)")
            x.add_argument("--auto-fail", type=_yes_no, help="every auto-failed call (yes/no)")
            x.add_argument("--roles-uncertain-below", help="role confidence under this (0-1), or off")
            x.add_argument("--sentiment-falling", type=_yes_no, help="every call whose customer's mood fell (yes/no)")
            x.add_argument("--near-threshold", type=_yes_no, help="every call with an item decided near its threshold")
            x.add_argument("--near-margin", type=float, help="how near: share of the check's scale (default 0.05)")
        x.set_defaults(func=lambda a: _run(_queue_rules, a))
    for x in (f, lst, *rs.choices.values()):
        _common(x)

    p = sub.add_parser("calibration", help="AI vs reviewer agreement, and blind calibration sessions")
    cs = p.add_subparsers(dest="calibration_command", required=True)
    rep = cs.add_parser("report", help="per item: Cohen's kappa, overrides by direction, what to tune first")
    rep.add_argument("--since", type=_date)
    rep.add_argument("--until", type=_date)
    rep.add_argument("--rubric", help="only scorings of this rubric id")
    rep.add_argument("--top", type=int, default=5, help="items to list for tuning (default 5)")
    rep.set_defaults(func=lambda a: _run(_calibration_report, a))
    _common(rep)
    s = cs.add_parser("session", help="calibration sessions: calls several reviewers score blind")
    ss = s.add_subparsers(dest="session_command", required=True)
    c = ss.add_parser("create")
    c.add_argument("name")
    c.add_argument("--call", action="append", required=True, help="a call id (repeat)")
    c.add_argument("--reviewer", action="append", required=True, help="a reviewer's identity (repeat, at least two)")
    ss.add_parser("list")
    for name in ("close", "report"):
        ss.add_parser(name).add_argument("session_id")
    sc = ss.add_parser("score", help="your blind outcome for one item")
    for arg in ("session_id", "call_id", "item_id"):
        sc.add_argument(arg)
    sc.add_argument("outcome", choices=["pass", "fail", "na"])
    for x in ss.choices.values():
        x.set_defaults(func=lambda a: _run(_session, a))
        _common(x)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="DuckDB file (default callqa.duckdb)")
    p.add_argument("--as", dest="as_identity", help="run as this callqa user (their role and scope)")
