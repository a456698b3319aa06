"""Calibration: does the AI score like the reviewers, and do the reviewers score like each other?

AI vs reviewer (`agreement`): for every scoring a reviewer looked at, pairs (AI outcome, human
outcome) per item. The human outcome is the item's latest review (an accepted dispute counts);
on a signed-off call, an item nobody changed counts as confirmed (the reviewer saw it and let it
stand). Per item: Cohen's kappa (`sklearn.metrics.cohen_kappa_score`, scikit-learn is already a
dependency), how many outcomes changed and in which direction (pass -> fail: the AI was too
lenient; fail -> pass: too strict), and a ranking of the items that most need tuning: many
changes, mostly in one direction, over enough pairs.

Reviewer vs reviewer (`CalibrationSessions`): a team lead or admin picks calls and reviewers;
each reviewer scores every item blind. Session scores live in their own table: they are never
applied to the call (nothing in `qa.access.effective` reads them), and a reviewer sees only their
own until the session is closed. The report then gives pairwise kappa between reviewers, the
share of items all reviewers agreed on, and each reviewer against the AI.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import combinations

from qa.access.audit import AuditLog
from qa.access.directory import Directory
from qa.access.model import REVIEW_ROLES, AccessDenied, Viewer
from qa.access.effective import to_results
from qa.review.errors import CalibrationError
from qa.review.records import ReviewFile, new_id, now
from qa.reviews import OUTCOMES

LABELS = list(OUTCOMES)  # pass, fail, na
MIN_PAIRS = 5  # fewer pairs than this: kappa is reported, the item is ranked only by its changes


def kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters' labels; None when undefined (no pairs, or one label throughout)."""
    if not a or len(set(a) | set(b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(a, b, labels=LABELS))
    return None if math.isnan(value) else round(value, 3)


@dataclass(frozen=True)
class ItemAgreement:
    rubric_id: str
    item_id: str
    item_title: str
    pairs: int
    agree: int
    kappa: float | None
    pass_to_fail: int
    fail_to_pass: int
    other_changes: int
    ai_pass: int
    ai_fail: int
    needs_tuning: float
    advice: str


@dataclass(frozen=True)
class CalibrationReport:
    items: list[ItemAgreement]  # every item with pairs, in rubric id / item id order
    ranking: list[ItemAgreement]  # items with changes, most in need of tuning first
    calls: int
    pairs: int
    overall_kappa: float | None


def item_agreement(rubric_id: str, item_id: str, title: str, pairs: list[tuple[str, str]]) -> ItemAgreement:
    """One item's agreement figures from (AI, human) outcome pairs."""
    ai = [p[0] for p in pairs]
    human = [p[1] for p in pairs]
    agree = sum(x == y for x, y in pairs)
    p2f = sum(x == "pass" and y == "fail" for x, y in pairs)
    f2p = sum(x == "fail" and y == "pass" for x, y in pairs)
    changes = len(pairs) - agree
    other = changes - p2f - f2p
    ai_pass, ai_fail = ai.count("pass"), ai.count("fail")
    one_way = max(p2f, f2p) / changes if changes else 0.0
    score = round((changes / len(pairs)) * (0.5 + 0.5 * one_way) * min(1.0, len(pairs) / MIN_PAIRS), 4) if pairs else 0.0
    k = kappa(ai, human)
    if not changes:
        advice = f"AI and reviewers agree on all {len(pairs)}"
    elif f2p > p2f:
        advice = f"AI too strict: reviewers turned {f2p} of {ai_fail} fails into passes"
    elif p2f > f2p:
        advice = f"AI too lenient: reviewers turned {p2f} of {ai_pass} passes into fails"
    elif p2f:
        advice = f"reviewers changed it both ways ({f2p} fail → pass, {p2f} pass → fail)"
    else:
        advice = f"reviewers changed whether it applies (n/a) {other} time{'s' if other != 1 else ''}"
    if len(pairs) < MIN_PAIRS:
        advice += f" (only {len(pairs)} reviewed)"
    return ItemAgreement(rubric_id, item_id, title, len(pairs), agree, k, p2f, f2p, other, ai_pass, ai_fail, score, advice)


def agreement(repo, viewer: Viewer, since: date | None = None, until: date | None = None,
              rubric_id: str | None = None) -> CalibrationReport:
    """AI vs reviewers per item over the viewer's reviewed calls (started in the period, if given)."""
    if not viewer.can_review:
        raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not see calibration figures")
    latest = repo.reviews.latest_all()
    file = ReviewFile(repo.db, repo.store.read_timeout_s)
    signed = {(c, r, v) for c, r, v in file.query("SELECT DISTINCT call_id, rubric_id, rubric_version FROM signoffs")}
    keys = sorted(set(latest) | signed)
    if rubric_id is not None:
        keys = [k for k in keys if k[1] == rubric_id]
    if not keys:
        return CalibrationReport([], [], 0, 0, None)
    where, params = [], []
    if since is not None:
        where.append("started_at >= ?")
        params.append(datetime.combine(since, datetime.min.time(), timezone.utc))
    if until is not None:
        where.append("started_at < ?")
        params.append(datetime.combine(until + timedelta(days=1), datetime.min.time(), timezone.utc))
    with repo.store.reading():
        visible = set(repo._frame(viewer, f"SELECT call_id FROM visible {'WHERE ' + ' AND '.join(where) if where else ''}",
                                  params, ["call_id"], ids=sorted({k[0] for k in keys}))["call_id"])
        keys = [k for k in keys if k[0] in visible]
        auto = to_results(repo._auto_items(viewer, keys)) if keys else {}
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key in keys:
        reviews = latest.get(key, {})
        for r in auto.get(key, []):
            review = reviews.get(r.item_id)
            if review is not None:
                human = review.outcome
            elif key in signed:
                human = r.outcome  # signed off without changing it: confirmed
            else:
                continue
            pairs.setdefault((key[1], r.item_id), []).append((r.outcome, human))
    items = []
    for (rid, item_id), p in sorted(pairs.items()):
        items.append(item_agreement(rid, item_id, repo.item_titles(rid).get(item_id, item_id), p))
    every = [x for p in pairs.values() for x in p]
    ranking = sorted((i for i in items if i.agree < i.pairs), key=lambda i: (-i.needs_tuning, i.kappa if i.kappa is not None else 1.0, i.item_id))
    return CalibrationReport(items, ranking, len({k[0] for k in keys if any(True for _ in auto.get(k, []))}), len(every),
                             kappa([a for a, _ in every], [h for _, h in every]))


# --- calibration sessions ---------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    session_id: str
    name: str
    created_by: str
    created_at: datetime
    call_ids: tuple[str, ...]
    reviewers: tuple[str, ...]  # identities
    closed_at: datetime | None = None
    closed_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class SessionReport:
    session: Session
    pairwise: list[tuple[str, str, float | None, int]]  # reviewer a, reviewer b, kappa, items both scored
    items: list[dict]  # per (call, item): call_id, item_id, title, ai, outcomes {reviewer: outcome}, unanimous
    unanimous_share: float | None  # share of (call, item) all reviewers who scored it agreed on
    ai_vs_reviewers: list[ItemAgreement]  # per item: the AI against every reviewer's outcome
    missing: dict[str, int]  # reviewer -> items they did not score


class CalibrationSessions:
    def __init__(self, repo):
        self.repo = repo
        self.file = ReviewFile(repo.db, repo.store.read_timeout_s)
        self.audit = AuditLog(repo.db)

    def _session(self, session_id: str) -> Session:
        rows = self.file.query("""SELECT s.session_id, s.name, s.created_by, s.created_at, s.call_ids_json, s.reviewers_json,
                                         x.closed_at, x.closed_by
                                  FROM calibration_sessions s LEFT JOIN calibration_closures x USING (session_id)
                                  WHERE s.session_id = ?""", [session_id])
        if not rows:
            raise CalibrationError(f"no calibration session {session_id!r}")
        r = rows[0]
        return Session(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), tuple(json.loads(r[5])), r[6], r[7])

    def create(self, viewer: Viewer, name: str, call_ids: list[str], reviewers: list[str]) -> Session:
        if viewer.role not in ("admin", "team_lead"):
            raise AccessDenied(f"{viewer.identity} ({viewer.role}) may not start calibration sessions")
        name = (name or "").strip()
        calls = list(dict.fromkeys(c for c in call_ids if c))
        people = list(dict.fromkeys(r.strip() for r in reviewers if r and r.strip()))
        if not name:
            raise CalibrationError("a calibration session needs a name")
        if not calls:
            raise CalibrationError("a calibration session needs at least one call")
        if len(people) < 2:
            raise CalibrationError("a calibration session needs at least two reviewers")
        directory = Directory(self.repo.db)
        for identity in people:
            user = directory.get(identity)
            if user is None or user.role not in REVIEW_ROLES:
                raise CalibrationError(f"{identity} is not a reviewer, team lead or admin in callqa's users")
        for call_id in calls:
            self.repo.require(viewer, call_id)
            if self.repo.scores(viewer, call_id).empty:
                raise CalibrationError(f"call {call_id} has no score: nothing to calibrate on")
        for identity in people:  # every reviewer must be allowed to open every call
            member = directory.viewer(identity, auth=viewer.auth)
            hidden = [c for c in calls if member is None or self.repo.call(member, c) is None]
            if hidden:
                raise CalibrationError(f"{identity} may not see call {hidden[0]}: pick calls every reviewer may open")
        s = Session(new_id(), name, viewer.identity, now(), tuple(calls), tuple(people))
        with self.file.writer() as con:
            con.execute("INSERT INTO calibration_sessions VALUES (?, ?, ?, ?, ?, ?)",
                        [s.session_id, name, viewer.identity, s.created_at, json.dumps(calls), json.dumps(people)])
        self.audit.record(viewer, "calibration_session", None, s.session_id, calls=len(calls), reviewers=people)
        return s

    def list(self, viewer: Viewer) -> list[Session]:
        """Sessions the viewer takes part in or started (an admin: all), newest first."""
        ids = [r[0] for r in self.file.query("SELECT session_id FROM calibration_sessions ORDER BY created_at DESC")]
        out = [self._session(i) for i in ids]
        return [s for s in out if viewer.is_admin or viewer.identity in s.reviewers or viewer.identity == s.created_by]

    def _member(self, viewer: Viewer, session_id: str) -> Session:
        s = self._session(session_id)
        if viewer.identity not in s.reviewers:
            raise AccessDenied(f"{viewer.identity} is not a reviewer in session {s.name!r}")
        return s

    def score(self, viewer: Viewer, session_id: str, call_id: str, item_id: str, outcome: str) -> None:
        """A member's blind outcome for one item (the latest per item counts); never applied to the call."""
        s = self._member(viewer, session_id)
        if not s.is_open:
            raise CalibrationError(f"session {s.name!r} is closed")
        if call_id not in s.call_ids:
            raise CalibrationError(f"call {call_id} is not in session {s.name!r}")
        outcome = (outcome or "").strip().lower()
        if outcome not in OUTCOMES:
            raise CalibrationError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        self.repo.require(viewer, call_id)
        items = set(self.repo.item_results(viewer, call_id)["item_id"])
        if item_id not in items:
            raise CalibrationError(f"call {call_id} has no item {item_id!r}")
        with self.file.writer() as con:
            con.execute("INSERT INTO calibration_scores VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [session_id, call_id, item_id, viewer.identity, viewer.name, outcome, now()])
        self.audit.record(viewer, "calibration_score", call_id, item_id, session_id=session_id, outcome=outcome)

    def _scores(self, session_id: str, reviewer: str | None = None) -> dict[tuple[str, str, str], str]:
        """(reviewer, call, item) -> latest outcome."""
        where, params = "session_id = ?", [session_id]
        if reviewer is not None:
            where, params = where + " AND reviewer_identity = ?", [*params, reviewer]
        rows = self.file.query(f"""SELECT reviewer_identity, call_id, item_id, outcome FROM calibration_scores WHERE {where}
            QUALIFY row_number() OVER (PARTITION BY reviewer_identity, call_id, item_id ORDER BY created_at DESC) = 1""",
                               params)
        return {(r[0], r[1], r[2]): r[3] for r in rows}

    def mine(self, viewer: Viewer, session_id: str) -> dict[tuple[str, str], str]:
        """The viewer's own scores in a session: (call_id, item_id) -> outcome (others' stay hidden)."""
        self._member(viewer, session_id)
        return {(c, i): o for (_, c, i), o in self._scores(session_id, viewer.identity).items()}

    def close(self, viewer: Viewer, session_id: str) -> Session:
        s = self._session(session_id)
        if not (viewer.is_admin or viewer.identity == s.created_by):
            raise AccessDenied(f"only {s.created_by} (who started it) or an admin may close session {s.name!r}")
        if not s.is_open:
            return s
        with self.file.writer() as con:
            con.execute("INSERT INTO calibration_closures VALUES (?, ?, ?)", [session_id, viewer.identity, now()])
        self.audit.record(viewer, "calibration_close", None, session_id)
        return self._session(session_id)

    def report(self, viewer: Viewer, session_id: str) -> SessionReport:
        """Reviewer vs reviewer and vs the AI; only once the session is closed (scoring is blind)."""
        s = self._session(session_id)
        if not (viewer.is_admin or viewer.identity in s.reviewers or viewer.identity == s.created_by):
            raise AccessDenied(f"{viewer.identity} is not in session {s.name!r}")
        if s.is_open:
            raise CalibrationError(f"session {s.name!r} is still open: scores stay hidden until it is closed")
        scores = self._scores(session_id)
        ai: dict[tuple[str, str], str] = {}
        rubric_of: dict[str, str] = {}
        for call_id in s.call_ids:
            items = self.repo.item_results(viewer, call_id)
            for i, o, r in zip(items["item_id"], items["auto_outcome"], items["rubric_id"]):
                ai[(call_id, str(i))] = str(o)
                rubric_of[call_id] = str(r)
        pairwise = []
        for a, b in combinations(s.reviewers, 2):
            both = [(scores[(a, c, i)], scores[(b, c, i)]) for (c, i) in ai if (a, c, i) in scores and (b, c, i) in scores]
            pairwise.append((a, b, kappa([x for x, _ in both], [y for _, y in both]), len(both)))
        rows, unanimous, scored = [], 0, 0
        per_item: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for (call_id, item_id), ai_outcome in ai.items():
            outcomes = {r: scores[(r, call_id, item_id)] for r in s.reviewers if (r, call_id, item_id) in scores}
            same = len(set(outcomes.values())) == 1 if len(outcomes) >= 2 else None
            if same is not None:
                scored += 1
                unanimous += bool(same)
            rid = rubric_of[call_id]
            title = self.repo.item_titles(rid).get(item_id, item_id)
            rows.append({"call_id": call_id, "item_id": item_id, "title": title, "ai": ai_outcome, "outcomes": outcomes,
                         "unanimous": same})
            per_item.setdefault((rid, item_id), []).extend((ai_outcome, o) for o in outcomes.values())
        vs_ai = [item_agreement(rid, i, self.repo.item_titles(rid).get(i, i), p) for (rid, i), p in sorted(per_item.items()) if p]
        missing = {r: sum((r, c, i) not in scores for (c, i) in ai) for r in s.reviewers}
        self.audit.record(viewer, "calibration_report", None, session_id)
        return SessionReport(s, pairwise, rows, round(unanimous / scored, 3) if scored else None, vs_ai, missing)
