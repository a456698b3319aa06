"""The review desk: what a reviewer, a team lead and an agent do with a call, in one object.

`ReviewDesk(repo)` wraps the scoped repository (`qa.access.repository.DuckDBRepository`): every
method takes the signed-in viewer, checks role and scope (a call outside the scope reads as "no
such call"), writes to the reviews file and records an audit row (ids and outcomes, never text).

- override: an item's outcome, signed with the viewer's name; a critical item needs a reason
  whenever the outcome differs from the AI's or from the current one (`ReasonRequired`, raised by
  the repository's `save_review`, so the older review form obeys it too).
- sign_off: "reviewed, agree / disagree with the AI" with a comment; the queue entry becomes done.
- comment: a free comment on the call.
- dispute / resolve: an agent disputes an item of their own call; the team lead of the agent's
  team (or an admin) accepts or rejects it with a comment. Accepting writes a review row (origin
  recorded in `dispute_decisions.review_id`), so `qa.access.effective` applies it like any review
  and every page, report and CLI table follows. Nothing is updated or deleted.
- timeline: the call's history as readable events (AI scoring, queue, overrides with before and
  after, sign-offs, comments, disputes and decisions).
- auto_fail_note: the machine's auto-fail stays visible after a review lifted it.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd

from qa.access.audit import AuditLog
from qa.access.model import AccessDenied, Viewer
from qa.access.query import CallPage, CallQuery
from qa.review.errors import DisputeError
from qa.review.queue import ReviewQueue, write_status
from qa.review.records import (
    AutoFailNote, Comment, Dispute, FillResult, Neighbours, QueueEntry, ReviewFile, SignOff, TimelineEvent, new_id, now,
    where_sql,
)
from qa.review.sampling import SamplingRules
from qa.reviews import OUTCOMES, Review, ReviewError, insert_review, new_review

VERDICTS = ("agree", "disagree")
OPPOSITE = {"fail": "pass", "pass": "fail"}
_DISPUTE_COLUMNS = """d.dispute_id, d.call_id, d.rubric_id, d.rubric_version, d.item_id, d.agent_id, d.raised_by,
    d.comment, d.outcome_at_dispute, d.requested_outcome, d.created_at, x.decision, x.decided_by, x.decided_at, x.comment"""


def _text(value: str | None) -> str:
    return (value or "").strip()


class ReviewDesk:
    def __init__(self, repo):
        self.repo = repo
        self.file = ReviewFile(repo.db, repo.store.read_timeout_s)
        self.queue_ = ReviewQueue(repo)
        self.audit = AuditLog(repo.db)

    # --- the queue (see qa.review.queue) -------------------------------------------------
    def queue(self, viewer: Viewer, status: str | None = None, assignee: str | None = "me") -> list[QueueEntry]:
        return self.queue_.entries(viewer, status, assignee)

    def neighbours(self, viewer: Viewer, call_id: str, assignee: str | None = "me") -> Neighbours:
        return self.queue_.neighbours(viewer, call_id, assignee)

    def start(self, viewer: Viewer, call_id: str) -> QueueEntry | None:
        """Its assignee opening a queued call moves it to in_review (a done call stays done; others change nothing)."""
        entry = self.queue_.entry(viewer, call_id)
        if entry is None or entry.status != "to_review" or not viewer.can_review or \
                entry.assignee not in (None, viewer.identity):
            return entry
        return self.queue_.set_status(viewer, call_id, "in_review", current=entry)

    def set_status(self, viewer: Viewer, call_id: str, status: str) -> QueueEntry | None:
        return self.queue_.set_status(viewer, call_id, status)

    def fill(self, viewer: Viewer, since: date | None = None, until: date | None = None) -> FillResult:
        return self.queue_.fill(viewer, since, until)

    def rules(self, viewer: Viewer, team: str | None = None) -> SamplingRules:
        return self.queue_.rules(viewer, team)

    def set_rules(self, viewer: Viewer, rules: SamplingRules) -> SamplingRules:
        return self.queue_.set_rules(viewer, rules)

    # --- search (audited: counts only, never the words) ----------------------------------
    def find_calls(self, viewer: Viewer, query: CallQuery) -> CallPage:
        page = self.repo.find_calls(viewer, query)
        if query.text and query.text.strip():
            self.audit.record(viewer, "search", None, None, words=len(query.text.split()), matched=page.total)
        return page

    # --- reviewing ---------------------------------------------------------------------
    def _scoring(self, viewer: Viewer, call_id: str, rubric_id: str | None, rubric_version: str | None) -> tuple[str, str]:
        self.repo.require(viewer, call_id)
        if rubric_id is not None and rubric_version is not None:
            return str(rubric_id), str(rubric_version)
        scores = self.repo.scores(viewer, call_id)
        if scores.empty:
            raise ReviewError(f"call {call_id} has no score to review (it was not scored)")
        return str(scores.iloc[0]["rubric_id"]), str(scores.iloc[0]["rubric_version"])

    def _item(self, viewer: Viewer, call_id: str, rid: str, ver: str, item_id: str,
              items: pd.DataFrame | None = None) -> dict:
        items = self.repo.item_results(viewer, call_id, rid, ver) if items is None else items
        row = items[items["item_id"] == item_id]
        if row.empty:
            raise ReviewError(f"call {call_id} has no item {item_id!r} in its {rid} v{ver} scoring")
        return row.iloc[0].to_dict()

    def override(self, viewer: Viewer, call_id: str, item_id: str, outcome: str, reason: str | None = None,
                 rubric_id: str | None = None, rubric_version: str | None = None) -> Review:
        """Set one item's outcome (history kept); a critical item's change needs a reason."""
        if not viewer.can_review:
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not review calls")
        outcome = _text(outcome).lower()
        if outcome not in OUTCOMES:
            raise ReviewError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        # one connection per file (~15-50 ms each to open): the store read, the reviews file read and written in
        # one transaction (the reason check sees what it guards), the audit rows written together
        with self.repo.store.reading():
            rid, ver = self._scoring(viewer, call_id, rubric_id, rubric_version)  # scope checked here
            with self.file.writer() as con, self.file.store.sharing(con):
                items = self.repo.item_results(viewer, call_id, rid, ver)
                item = self._item(viewer, call_id, rid, ver, item_id, items)
                entry = self.queue_.bare_entry(call_id)
                # the repository's rule (as in `save_review`, for every caller): a critical item's change needs a reason
                self.repo.check_reason(viewer, items, rid, ver, item_id, outcome, _text(reason) or None)
                review = new_review(call_id, rid, ver, item_id, outcome, viewer.name, _text(reason) or None)
                start = entry is not None and entry.status == "to_review" and entry.assignee in (None, viewer.identity)
                insert_review(con, review)
                if start:
                    write_status(con, viewer, call_id, "in_review", now())  # after the review, as before
        audit = [("review", call_id, item_id, dict(
            outcome=outcome, before=item["outcome"], ai=item["auto_outcome"], rubric_id=rid, rubric_version=ver,
            review_id=review.review_id, critical=bool(item["critical"])))]
        if start:
            audit.append(("queue_status", call_id, "in_review", {"before": entry.status}))
        self.audit.record_many(viewer, audit)
        return review

    def sign_off(self, viewer: Viewer, call_id: str, verdict: str, comment: str | None = None) -> SignOff:
        """"Reviewed: I agree / disagree with the AI" for the call; its queue entry becomes done."""
        if not viewer.can_review:
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not sign off calls")
        verdict = _text(verdict).lower()
        if verdict not in VERDICTS:
            raise ReviewError(f"a sign-off says agree or disagree (with the AI), got {verdict!r}")
        with self.repo.store.reading():
            rid, ver = self._scoring(viewer, call_id, None, None)  # scope checked here (the store only)
        # the queue row read and updated in one transaction of the reviews file (one connection)
        with self.file.writer() as con, self.file.store.sharing(con):
            entry = self.queue_.bare_entry(call_id)
            if entry is not None and viewer.role == "reviewer" and entry.assignee not in (None, viewer.identity):
                raise AccessDenied(f"{call_id} is in {entry.assignee}'s queue, not {viewer.identity}'s")
            s = SignOff(new_id(), call_id, rid, ver, viewer.name, verdict, _text(comment) or None, now())
            con.execute("INSERT INTO signoffs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [s.signoff_id, call_id, rid, ver, s.reviewer, viewer.identity, verdict, s.comment, s.created_at])
            if entry is not None and entry.status != "done":
                write_status(con, viewer, call_id, "done", s.created_at)
        self.audit.record(viewer, "sign_off", call_id, verdict, signoff_id=s.signoff_id, rubric_id=rid,
                          rubric_version=ver, queue_before=entry.status if entry else None)
        return s

    def comment(self, viewer: Viewer, call_id: str, text: str) -> Comment:
        if not viewer.can_review:
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not comment on calls")
        self.repo.require(viewer, call_id)
        if not _text(text):
            raise ReviewError("a comment needs some text")
        c = Comment(new_id(), call_id, viewer.name, _text(text), now())
        with self.file.writer() as con:
            con.execute("INSERT INTO call_comments VALUES (?, ?, ?, ?, ?, ?)",
                        [c.comment_id, call_id, c.author, viewer.identity, c.text, c.created_at])
        self.audit.record(viewer, "call_comment", call_id, None, comment_id=c.comment_id)
        return c

    def signoffs(self, viewer: Viewer, call_id: str) -> list[SignOff]:
        self.repo.require(viewer, call_id)
        return self._signoffs(call_id)

    def _signoffs(self, call_id: str) -> list[SignOff]:
        return [SignOff(*r) for r in self.file.query(
            """SELECT signoff_id, call_id, rubric_id, rubric_version, reviewer, verdict, comment, created_at
               FROM signoffs WHERE call_id = ? ORDER BY created_at""", [call_id])]

    # --- disputes ----------------------------------------------------------------------
    def dispute(self, viewer: Viewer, call_id: str, item_id: str, comment: str, rubric_id: str | None = None,
                rubric_version: str | None = None) -> Dispute:
        """An agent disputes one item of their own call (the opposite outcome is asked for)."""
        if viewer.role != "agent":
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) cannot dispute: agents dispute their own calls")
        call = self.repo.require(viewer, call_id)
        if call.row.get("agent_id") != viewer.agent_id:
            raise AccessDenied(f"{call_id} is not {viewer.identity}'s call")
        if not _text(comment):
            raise DisputeError("say why you dispute this item (a comment is required)")
        rid, ver = self._scoring(viewer, call_id, rubric_id, rubric_version)
        item = self._item(viewer, call_id, rid, ver, item_id)
        current = str(item["outcome"])
        if current not in OPPOSITE:
            raise DisputeError(f"item {item_id!r} did not apply to this call (n/a): there is nothing to dispute")
        open_ = [d for d in self._disputes([call_id]) if d.item_id == item_id and d.status == "open"
                 and (d.rubric_id, d.rubric_version) == (rid, ver)]
        if open_:
            raise DisputeError(f"this item already has an open dispute (raised {open_[0].created_at:%Y-%m-%d})")
        d_id, at = new_id(), now()
        with self.file.writer() as con:
            con.execute("INSERT INTO disputes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [d_id, call_id, rid, ver, item_id, viewer.agent_id, viewer.name, viewer.identity,
                         _text(comment), current, OPPOSITE[current], at])
        self.audit.record(viewer, "dispute", call_id, item_id, dispute_id=d_id, outcome=current,
                          requested=OPPOSITE[current])
        return self._dispute(d_id)

    def resolve(self, viewer: Viewer, dispute_id: str, accept: bool, comment: str) -> Dispute:
        """The team lead of the agent's team (or an admin) accepts or rejects a dispute, with a comment."""
        if viewer.role not in ("team_lead", "admin"):
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not decide disputes: the agent's team lead does")
        d = self._dispute(dispute_id)
        if d is None:
            raise DisputeError(f"no dispute {dispute_id!r}")
        self.repo.require(viewer, d.call_id)  # a team lead sees exactly the calls of the teams they lead
        if d.status != "open":
            raise DisputeError(f"this dispute was already {d.status} by {d.decided_by}")
        if not _text(comment):
            raise DisputeError("say why you accept or reject the dispute (a comment is required)")
        at = now()
        review_id = new_id() if accept else None
        with self.file.writer() as con:
            if accept:
                con.execute("""INSERT INTO reviews (review_id, call_id, rubric_id, rubric_version, item_id, outcome,
                               reviewer, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                            [review_id, d.call_id, d.rubric_id, d.rubric_version, d.item_id, d.requested_outcome,
                             viewer.name, f"dispute accepted: {_text(comment)}", at])
            con.execute("INSERT INTO dispute_decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [dispute_id, "accepted" if accept else "rejected", viewer.name, viewer.identity, _text(comment),
                         review_id, at])
        self.audit.record(viewer, "dispute_decision", d.call_id, d.item_id, dispute_id=dispute_id,
                          decision="accepted" if accept else "rejected", review_id=review_id)
        out = self._dispute(dispute_id)
        assert out is not None
        return out

    def disputes(self, viewer: Viewer, call_id: str | None = None, status: str | None = None) -> list[Dispute]:
        """Disputes of the calls the viewer sees (one call, or all), oldest first."""
        with self.repo.reading():
            return self._visible_disputes(viewer, call_id, status)

    def _visible_disputes(self, viewer: Viewer, call_id: str | None, status: str | None) -> list[Dispute]:
        if call_id is not None:
            self.repo.require(viewer, call_id)
        found = self._disputes([call_id] if call_id else None)
        if call_id is None and found:
            ids = sorted({d.call_id for d in found})
            seen = set(self.repo._frame(viewer, "SELECT call_id FROM visible", None, ["call_id"], ids=ids)["call_id"])
            found = [d for d in found if d.call_id in seen]
        return [d for d in found if status is None or d.status == status]

    def _dispute(self, dispute_id: str) -> Dispute | None:
        found = self._disputes(None, dispute_id)
        return found[0] if found else None

    def _disputes(self, call_ids: list[str] | None, dispute_id: str | None = None) -> list[Dispute]:
        where, params = where_sql([("list_contains(?::VARCHAR[], d.call_id)", call_ids), ("d.dispute_id = ?", dispute_id)])
        rows = self.file.query(f"""SELECT {_DISPUTE_COLUMNS} FROM disputes d
            LEFT JOIN dispute_decisions x ON x.dispute_id = d.dispute_id {where} ORDER BY d.created_at""", params)
        out = []
        for r in rows:
            title = self.repo.item_titles(r[2], r[3]).get(r[4], r[4])
            out.append(Dispute(r[0], r[1], r[2], r[3], r[4], title, r[5], r[6], r[7], r[8], r[9], r[10],
                               r[11] or "open", r[12], r[13], r[14]))
        return out

    # --- what happened to a call -------------------------------------------------------
    def timeline(self, viewer: Viewer, call_id: str) -> list[TimelineEvent]:
        """The call's history, oldest first, in plain sentences."""
        with self.repo.reading():
            return self._timeline(viewer, call_id)

    def _timeline(self, viewer: Viewer, call_id: str) -> list[TimelineEvent]:
        self.repo.require(viewer, call_id)
        scores = self.repo.scores(viewer, call_id)
        auto = {}
        for rid, ver in zip(scores["rubric_id"], scores["rubric_version"]):
            auto[(str(rid), str(ver))] = self.repo._auto_items(viewer, [(call_id, str(rid), str(ver))])
        entry = self.queue_.bare_entry(call_id)  # its reasons (scope checked above)
        events: list[TimelineEvent] = []
        for s in scores.to_dict("records"):
            rid, ver = str(s["rubric_id"]), str(s["rubric_version"])
            titles = self.repo.item_titles(rid, ver)
            items = auto.get((rid, ver), pd.DataFrame())
            what = f"AI scored {s['score_pct']:.1f} %" if s["score_pct"] == s["score_pct"] and s["score_pct"] is not None \
                else "AI scored the call"
            if isinstance(s["band"], str):
                what += f" ({s['band'].replace('_', ' ')})"
            if bool(s["auto_failed"]):
                failed = [titles.get(i, i) for i, o, c in zip(items.get("item_id", []), items.get("outcome", []),
                                                             items.get("critical", [])) if o == "fail" and bool(c)]
                what += "; auto-failed: " + (", ".join(failed) or "a critical item")
            events.append(TimelineEvent(_ts(s["scored_at"]), "AI", what, "ai_score", after=_pct(s["score_pct"])))
        for cid, at, actor, status, detail in self.file.query(
                "SELECT call_id, event_at, actor, status, detail FROM queue_events WHERE call_id = ? ORDER BY event_at", [call_id]):
            if status == "to_review":
                text = "; ".join(entry.reasons) if entry else None
                events.append(TimelineEvent(at, actor or "?", "added to the review queue", "queued", reason=text))
            elif status is None:
                events.append(TimelineEvent(at, actor or "?", "review queue: more reasons added", "queued",
                                            reason=", ".join(json.loads(detail or "[]"))))
            else:
                events.append(TimelineEvent(at, actor or "?", f"review queue: {status.replace('_', ' ')}",
                                            "queue_status", after=status))
        events += self._review_events(call_id, auto)
        for s in self._signoffs(call_id):
            events.append(TimelineEvent(s.created_at, s.reviewer, f"signed off: {s.verdict}s with the AI", "sign_off",
                                        after=s.verdict, reason=s.comment))
        for author, text, at in self.file.query(
                "SELECT author, text, created_at FROM call_comments WHERE call_id = ? ORDER BY created_at", [call_id]):
            events.append(TimelineEvent(at, author, "commented", "comment", reason=text))
        for d in self._disputes([call_id]):
            events.append(TimelineEvent(d.created_at, d.raised_by, f"disputed “{d.item_title}”", "dispute", d.item_id,
                                        d.item_title, d.outcome_at_dispute, d.requested_outcome, d.comment))
            if d.status != "open":
                verb = "accepted" if d.status == "accepted" else "rejected"
                events.append(TimelineEvent(
                    d.decided_at, d.decided_by or "?", f"{verb} the dispute on “{d.item_title}”", f"dispute_{d.status}",
                    d.item_id, d.item_title, d.outcome_at_dispute,
                    d.requested_outcome if d.status == "accepted" else d.outcome_at_dispute, d.decision_comment))
        return sorted(events, key=lambda e: (e.when, _KIND_ORDER.get(e.kind, 9)))

    def _review_events(self, call_id: str, auto: dict) -> list[TimelineEvent]:
        """Overrides with the outcome before (the AI's or the previous review's) and after."""
        from_disputes = {r[0] for r in self.file.query(
            "SELECT x.review_id FROM dispute_decisions x JOIN disputes d USING (dispute_id) WHERE d.call_id = ?"
            " AND x.review_id IS NOT NULL", [call_id])}
        current: dict[tuple[str, str, str], str] = {}
        for (rid, ver), items in auto.items():
            for i, o in zip(items.get("item_id", []), items.get("outcome", [])):
                current[(rid, ver, str(i))] = str(o)
        out = []
        for r in sorted(self.repo.reviews.history(call_id), key=lambda r: r.created_at):
            key = (r.rubric_id, r.rubric_version, r.item_id)
            before = current.get(key)
            current[key] = r.outcome
            if r.review_id in from_disputes:
                continue  # shown as the dispute's decision
            title = self.repo.item_titles(r.rubric_id, r.rubric_version).get(r.item_id, r.item_id)
            what = f"changed “{title}” from {before} to {r.outcome}" if before and before != r.outcome \
                else f"confirmed “{title}”: {r.outcome}"
            out.append(TimelineEvent(r.created_at, r.reviewer, what, "override", r.item_id, title, before, r.outcome,
                                     r.comment))
        return out

    def auto_fail_note(self, viewer: Viewer, call_id: str) -> AutoFailNote | None:
        """None when the AI did not auto-fail the call's latest scoring; else which items and who lifted it."""
        with self.repo.reading():
            return self._auto_fail_note(viewer, call_id)

    def _auto_fail_note(self, viewer: Viewer, call_id: str) -> AutoFailNote | None:
        scores = self.repo.scores(viewer, call_id)
        if scores.empty or not bool(scores.iloc[0]["auto_failed"]):
            return None
        rid, ver = str(scores.iloc[0]["rubric_id"]), str(scores.iloc[0]["rubric_version"])
        items = self.repo.item_results(viewer, call_id, rid, ver)
        failed = items[(items["auto_outcome"] == "fail") & items["critical"].fillna(False).astype(bool)]
        titles = self.repo.item_titles(rid, ver)
        ids = tuple(str(i) for i in failed["item_id"])
        names = tuple(titles.get(i, i) for i in ids)
        effective = self.repo.reviewed_score(viewer, call_id, rid, ver)
        still = effective is None or bool(effective.auto_failed)
        label = ", ".join(names) or "a critical item"
        if still:
            return AutoFailNote(ids, names, True, None, None, f"AI auto-failed: {label}")
        lifted = [r for r in self.repo.reviews.history(call_id)
                  if (r.rubric_id, r.rubric_version) == (rid, ver) and r.item_id in ids and r.outcome != "fail"]
        last = max(lifted, key=lambda r: r.created_at) if lifted else None
        who, when = (last.reviewer, last.created_at) if last else (None, None)
        text = f"AI auto-failed: {label}" + (f", lifted by {who} on {when:%Y-%m-%d}" if last else ", lifted by a review")
        return AutoFailNote(ids, names, False, who, when, text)


_KIND_ORDER = {"ai_score": 0, "queued": 1, "queue_status": 2, "override": 3, "dispute": 4, "dispute_accepted": 5,
               "dispute_rejected": 5, "comment": 6, "sign_off": 7}


def _ts(value) -> datetime:
    return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value


def _pct(value) -> str | None:
    return None if value is None or value != value else f"{float(value):.1f} %"
