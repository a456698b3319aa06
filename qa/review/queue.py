"""The review queue: each reviewer's list of calls to review, filled by the sampling rules.

`fill` (a team lead or admin, `callqa queue fill`, or a schedule) runs the rules over the calls
the filler may see (`qa.review.sampling`) and adds each picked call once, with every reason it
was picked; a re-run adds nothing twice (a call already queued only gains reasons it did not
have). Each new call is assigned to a reviewer whose scope covers it (the one with the fewest
open calls; ties broken by a hash of the call id, so a re-run assigns alike), else to a team lead
of the agent's team, else to nobody (admins see it).

Status moves to_review -> in_review (opened) -> done (signed off); every move is kept in
`queue_events`. A reviewer's list is ordered by when calls were added, then call start, then id,
so next / previous stay put while statuses change.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from datetime import date

from qa.access.audit import AuditLog
from qa.access.directory import Directory
from qa.access.model import AccessDenied, Viewer, viewer_for
from qa.review.errors import QueueError
from qa.review.records import FillResult, Neighbours, QueueEntry, ReviewFile, new_id, now, where_sql
from qa.review.sampling import SamplingRules, candidates, period, rules_json

STATUSES = ("to_review", "in_review", "done")
_ENTRY_COLUMNS = "call_id, assignee, status, reasons_json, codes_json, added_at, updated_at"


def _require_lead(viewer: Viewer, what: str) -> None:
    if viewer.role not in ("admin", "team_lead"):
        raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not {what}: team leads and admins only")


class ReviewQueue:
    def __init__(self, repo):
        self.repo = repo
        self.file = ReviewFile(repo.db, repo.store.read_timeout_s)
        self.audit = AuditLog(repo.db)

    # --- rules -------------------------------------------------------------------------
    def all_rules(self) -> dict[str | None, SamplingRules]:
        """Team (None = default) -> the latest rules saved for it; the default exists always."""
        out: dict[str | None, SamplingRules] = {None: SamplingRules()}
        for team, text in self.file.query("""SELECT team, rules_json FROM sampling_rules
                                             QUALIFY row_number() OVER (PARTITION BY team ORDER BY set_at DESC) = 1"""):
            out[team] = SamplingRules.parse(json.loads(text))
        return out

    def rules(self, viewer: Viewer, team: str | None = None) -> SamplingRules:
        if not viewer.can_review:
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not see the sampling rules")
        every = self.all_rules()
        return every.get(team, every[None])

    def set_rules(self, viewer: Viewer, rules: SamplingRules) -> SamplingRules:
        """Save a rule set: an admin for any team or the default, a team lead for the teams they lead."""
        _require_lead(viewer, "set sampling rules")
        if viewer.role == "team_lead":
            user = Directory(self.repo.db).get(viewer.identity)
            led = user.teams if user else ()
            if rules.team is None or rules.team not in led:
                raise AccessDenied(f"{viewer.identity} may set rules only for the teams they lead ({', '.join(led) or 'none'})")
        with self.file.writer() as con:
            con.execute("INSERT INTO sampling_rules VALUES (?, ?, ?, ?, ?)",
                        [new_id(), rules.team, rules_json(rules), viewer.name, now()])
        self.audit.record(viewer, "queue_rules", None, rules.team or "default", **rules.model_dump())
        return rules

    # --- fill --------------------------------------------------------------------------
    def fill(self, viewer: Viewer, since: date | None = None, until: date | None = None) -> FillResult:
        """Add the calls the rules pick in the period (default: the 7 days up to the latest call)."""
        _require_lead(viewer, "fill the review queue")
        latest = self.repo._frame(viewer, "SELECT max(started_at) AS t FROM visible", None, ["t"])
        t = latest["t"].iat[0] if len(latest) else None
        start, end = period(since, until, None if t is None or t != t else t.to_pydatetime())
        directory = Directory(self.repo.db)
        users = directory.list()
        team_of: dict[str, str] = {}
        for team, agent in directory.file.query("SELECT team_id, agent_id FROM team_agents ORDER BY team_id DESC"):
            team_of[agent] = team
        picked = candidates(self.repo, viewer, self.all_rules(), team_of, start, end)
        reviewers = [(u, viewer_for(u, (), "cli")) for u in users if u.role == "reviewer"]
        leads = [(u, viewer_for(u, directory.team_agents(u.identity), "cli")) for u in users if u.role == "team_lead"]
        existing = {r[0]: r for r in self.file.query(f"SELECT {_ENTRY_COLUMNS} FROM queue_items")}
        load = Counter(r[1] for r in existing.values() if r[2] != "done")
        added = updated = unchanged = 0
        by_reason: Counter = Counter()
        by_assignee: Counter = Counter()
        at = now()
        with self.file.writer() as con:
            for cand in picked:
                for code in cand.codes:
                    by_reason[code] += 1
                old = existing.get(cand.call_id)
                if old is not None:
                    codes, reasons = json.loads(old[4]), json.loads(old[3])
                    new = [(c, r) for c, r in zip(cand.codes, cand.reasons) if c not in codes]
                    if not new:
                        unchanged += 1
                        continue
                    con.execute("UPDATE queue_items SET codes_json = ?, reasons_json = ?, updated_at = ? WHERE call_id = ?",
                                [json.dumps(codes + [c for c, _ in new]), json.dumps(reasons + [r for _, r in new],
                                                                                   ensure_ascii=False), at, cand.call_id])
                    con.execute("INSERT INTO queue_events VALUES (?, ?, ?, ?, ?)",
                                [cand.call_id, at, viewer.name, None, json.dumps([c for c, _ in new])])
                    updated += 1
                    continue
                assignee = _assign(cand, reviewers, leads, load)
                if assignee:
                    load[assignee] += 1
                by_assignee[assignee or "(nobody)"] += 1
                con.execute(f"INSERT INTO queue_items ({_ENTRY_COLUMNS}, added_by) VALUES (?, ?, 'to_review', ?, ?, ?, ?, ?)",
                            [cand.call_id, assignee, json.dumps(cand.reasons, ensure_ascii=False),
                             json.dumps(cand.codes), at, at, viewer.name])
                con.execute("INSERT INTO queue_events VALUES (?, ?, ?, 'to_review', ?)",
                            [cand.call_id, at, viewer.name, json.dumps(cand.codes)])
                added += 1
        result = FillResult(added, updated, unchanged, dict(by_reason), dict(by_assignee))
        self.audit.record(viewer, "queue_fill", None, f"{start.date()}..{end.date()}", added=added, updated=updated,
                          unchanged=unchanged, by_reason=dict(by_reason))
        return result

    # --- a reviewer's list -------------------------------------------------------------
    def entries(self, viewer: Viewer, status: str | None = None, assignee: str | None = "me") -> list[QueueEntry]:
        """Queue entries the viewer may see: their own ("me"), one reviewer's, or all (None; leads, admins)."""
        with self.repo.reading():
            return self._list(viewer, status, assignee)

    def _rows(self, viewer: Viewer, status: str | None, assignee: str | None) -> list[tuple]:
        """The queue rows the viewer asks for (role checked), not yet narrowed to the viewer's scope."""
        if not viewer.can_review:
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) has no review queue")
        if status is not None and status not in STATUSES:
            raise QueueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        who = viewer.identity if assignee == "me" else assignee
        if who not in (None, viewer.identity) and viewer.role == "reviewer":
            raise AccessDenied(f"{viewer.identity} may see only their own queue")
        where, params = where_sql([("assignee = ?", who), ("status = ?", status)])
        return self.file.query(f"SELECT {_ENTRY_COLUMNS} FROM queue_items {where} ORDER BY added_at, call_id", params)

    def _list(self, viewer: Viewer, status: str | None, assignee: str | None) -> list[QueueEntry]:
        out = self._entries(viewer, self._rows(viewer, status, assignee))
        return sorted(out, key=lambda e: (e.added_at, _sort_time(e.started_at), e.call_id))

    def neighbours(self, viewer: Viewer, call_id: str, assignee: str | None = "me") -> Neighbours:
        """Previous (any status) and next not-done call around `call_id` in the viewer's list (the list's order)."""
        with self.repo.reading():
            rows = self._rows(viewer, None, assignee)
            seen = self.repo._frame(viewer, "SELECT call_id, started_at FROM visible", None, ["call_id", "started_at"],
                                    ids=[r[0] for r in rows]) if rows else None
        started = {} if seen is None else {str(c): _val(t) for c, t in zip(seen["call_id"], seen["started_at"])}
        ordered = sorted(((r[5], _sort_time(started[r[0]]), r[0], r[2]) for r in rows if r[0] in started))
        ids = [o[2] for o in ordered]
        open_ = {o[2] for o in ordered if o[3] != "done"}
        if call_id not in ids:
            return Neighbours(None, next((c for c in ids if c in open_), None), None, len(ids))
        i = ids.index(call_id)
        nxt = next((c for c in ids[i + 1:] if c in open_), None)
        return Neighbours(ids[i - 1] if i > 0 else None, nxt, i + 1, len(ids))

    def entry(self, viewer: Viewer, call_id: str) -> QueueEntry | None:
        with self.repo.reading():
            self.repo.require(viewer, call_id)
            rows = self.file.query(f"SELECT {_ENTRY_COLUMNS} FROM queue_items WHERE call_id = ?", [call_id])
            return self._entries(viewer, rows)[0] if rows else None

    def bare_entry(self, call_id: str) -> QueueEntry | None:
        """The call's queue row without the call's facts (agent, score ...), for a caller that has already
        checked the viewer may see the call (`repo.require`): one small read, no call rows."""
        rows = self.file.query(f"SELECT {_ENTRY_COLUMNS} FROM queue_items WHERE call_id = ?", [call_id])
        return QueueEntry(*rows[0][:3], tuple(json.loads(rows[0][3])), tuple(json.loads(rows[0][4])),
                          *rows[0][5:]) if rows else None

    def _entries(self, viewer: Viewer, rows: list[tuple]) -> list[QueueEntry]:
        """Queue rows with their calls' facts (scoped: a call outside the scope drops out)."""
        if not rows:
            return []
        facts = self.repo.call_rows(viewer, [r[0] for r in rows])
        by_id = {str(c): rec for c, rec in zip(facts["call_id"], facts.to_dict("records"))}
        out = []
        for r in rows:
            f = by_id.get(r[0])
            if f is None:
                continue
            out.append(QueueEntry(r[0], r[1], r[2], tuple(json.loads(r[3])), tuple(json.loads(r[4])), r[5], r[6],
                                  _val(f.get("agent")), _val(f.get("started_at")), _val(f.get("queue")),
                                  _val(f.get("direction")), _num(f.get("score_pct")), _val(f.get("band")),
                                  None if _val(f.get("auto_failed")) is None else bool(f.get("auto_failed"))))
        return out

    def set_status(self, viewer: Viewer, call_id: str, status: str,
                   current: QueueEntry | None = None) -> QueueEntry | None:
        """Move a queued call to `status` (the assignee, a team lead or an admin); None: the call is not queued.

        `current`: the entry as just read by the caller (saves reading it again)."""
        if status not in STATUSES:
            raise QueueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if not viewer.can_review:
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not change the review queue")
        current = current or self.entry(viewer, call_id)
        if current is None:
            return None
        if current.status == status:
            return current
        if viewer.role == "reviewer" and current.assignee not in (None, viewer.identity):
            raise AccessDenied(f"{call_id} is in {current.assignee}'s queue, not {viewer.identity}'s")
        at = now()
        with self.file.writer() as c:
            write_status(c, viewer, call_id, status, at)
        self.audit.record(viewer, "queue_status", call_id, status, before=current.status)
        return replace(current, status=status, updated_at=at, assignee=current.assignee or viewer.identity)


def write_status(con, viewer: Viewer, call_id: str, status: str, at) -> None:
    """The queue row's new status (the viewer takes an unassigned call) and its event, on an open writer."""
    con.execute("UPDATE queue_items SET status = ?, updated_at = ?, assignee = coalesce(assignee, ?) WHERE call_id = ?",
                [status, at, viewer.identity, call_id])
    con.execute("INSERT INTO queue_events VALUES (?, ?, ?, ?, NULL)", [call_id, at, viewer.name, status])


def _assign(cand, reviewers, leads, load: Counter) -> str | None:
    """The eligible reviewer with the fewest open calls (ties: a hash of call id + identity), else a lead."""
    for pool in (reviewers, leads):
        eligible = [u.identity for u, v in pool if v.scope.allows(cand.agent_id, cand.queue)]
        if eligible:
            return min(eligible, key=lambda i: (load[i], hashlib.md5(f"{cand.call_id}|{i}".encode()).hexdigest()))
    return None


def _val(v):
    if v is None:
        return None
    try:
        if v != v:
            return None
    except (TypeError, ValueError):
        pass
    return v.to_pydatetime() if hasattr(v, "to_pydatetime") else v


def _num(v) -> float | None:
    v = _val(v)
    return None if v is None else float(v)


def _sort_time(t) -> float:
    return t.timestamp() if t is not None else float("inf")
