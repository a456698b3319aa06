"""Reviewing and disputes (qa/review/desk.py): required reasons on critical items, sign-off and the
queue, comments, the readable timeline, the machine's auto-fail kept visible after a review, disputes
from the agent to their team lead with the score following everywhere, roles, and audit rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.access.audit import AuditLog
from qa.access.model import AccessDenied
from qa.review.errors import DisputeError, ReasonRequired
from qa.reviews import ReviewError
from tests.review_world import AUTO_FAILED, CRITICAL, World, call_of, call_with, copy_world, make_world


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("review-base"))


@pytest.fixture
def world(base: World, tmp_path: Path) -> World:
    return copy_world(base, tmp_path)


def _items(world: World, viewer: str, call_id: str) -> dict[str, dict]:
    df = world.repo.item_results(world[viewer], call_id)
    return {r["item_id"]: r for r in df.to_dict("records")}


# (item, outcome, reason, error): the call's AI outcomes are pass for the critical item and for empathy
REASON_CASES = [
    (CRITICAL, "pass", None, None),  # confirming the AI: no reason needed
    (CRITICAL, "fail", None, ReasonRequired),
    (CRITICAL, "fail", "   ", ReasonRequired),
    (CRITICAL, "na", None, ReasonRequired),
    (CRITICAL, "fail", "promised a refund he cannot give", None),
    ("empathy", "fail", None, None),  # not critical: the reason stays optional
    ("empathy", "maybe", "x", ReviewError),
    ("no_such_item", "pass", "x", ReviewError),
]


@pytest.mark.parametrize("item, outcome, reason, error", REASON_CASES)
def test_override_reason_rule(world: World, item, outcome, reason, error) -> None:
    call = call_with(world, "empathy", "pass")
    if error is None:
        review = world.desk.override(world["qa@x"], call, item, outcome, reason)
        assert review.reviewer == "qa@x" and review.outcome == outcome
        assert _items(world, "qa@x", call)[item]["outcome"] == outcome
    else:
        with pytest.raises(error) as exc:
            world.desk.override(world["qa@x"], call, item, outcome, reason)
        if error is ReasonRequired:
            assert "Yetki dışı söz vermeme" in str(exc.value) and "reason is required" in str(exc.value)
        assert _items(world, "qa@x", call)[CRITICAL]["outcome"] == "pass"  # nothing saved


def test_reverting_a_critical_override_needs_a_reason_too(world: World) -> None:
    call = call_with(world, CRITICAL, "pass")
    world.desk.override(world["qa@x"], call, CRITICAL, "fail", "said 'I guarantee it'")
    with pytest.raises(ReasonRequired):
        world.desk.override(world["qa@x"], call, CRITICAL, "pass")  # the AI's outcome, but not the current one
    world.desk.override(world["qa@x"], call, CRITICAL, "pass", "misheard: he said he could not promise")


def test_auto_fail_stays_visible_after_a_review_lifts_it(world: World) -> None:
    note = world.desk.auto_fail_note(world["qa@x"], AUTO_FAILED)
    assert note.still_failed and note.text == "AI auto-failed: Yetki dışı söz vermeme" and note.item_ids == (CRITICAL,)
    world.desk.override(world["qa@x"], AUTO_FAILED, CRITICAL, "pass", "the customer asked, nothing was promised")
    note = world.desk.auto_fail_note(world["qa@x"], AUTO_FAILED)
    assert not note.still_failed and note.lifted_by == "qa@x"
    assert note.text == f"AI auto-failed: Yetki dışı söz vermeme, lifted by qa@x on {note.lifted_at:%Y-%m-%d}"
    row = world.repo.list_calls(world["qa@x"]).set_index("call_id").loc[AUTO_FAILED]
    assert not bool(row["auto_failed"]) and row["score_pct"] > 0 and row["auto_score_pct"] == 0
    assert world.desk.auto_fail_note(world["qa@x"], call_with(world, CRITICAL, "pass")) is None


def test_sign_off_marks_the_queue_entry_done(world: World) -> None:
    world.desk.fill(world["admin@x"])
    entry = world.desk.queue(world["qa@x"])[0]
    assert entry.status == "to_review"
    world.desk.start(world["qa@x"], entry.call_id)
    assert world.desk.queue_.entry(world["qa@x"], entry.call_id).status == "in_review"
    s = world.desk.sign_off(world["qa@x"], entry.call_id, "Agree", "fine")
    assert (s.verdict, s.reviewer, s.comment) == ("agree", "qa@x", "fine")
    assert world.desk.queue_.entry(world["qa@x"], entry.call_id).status == "done"
    with pytest.raises(ReviewError, match="agree or disagree"):
        world.desk.sign_off(world["qa@x"], entry.call_id, "meh")
    with pytest.raises(AccessDenied):  # someone else's queue entry
        world.desk.sign_off(world["billing@x"], entry.call_id, "agree") if entry.assignee == "qa@x" else \
            world.desk.sign_off(world["qa@x"], world.desk.queue(world["billing@x"])[0].call_id, "agree")


def test_a_save_writes_review_queue_move_and_audit_together_or_nothing(world: World) -> None:
    world.desk.fill(world["admin@x"])
    entry = next(e for e in world.desk.queue(world["qa@x"]) if e.status == "to_review")
    items = _items(world, "qa@x", entry.call_id)
    critical = next(i for i, r in items.items() if r["critical"] and r["outcome"] in ("pass", "fail"))
    audit = AuditLog(world.db)
    before = len(audit.rows())
    with pytest.raises(ReasonRequired):  # refused: no review, the queue entry and the audit untouched
        world.desk.override(world["qa@x"], entry.call_id, critical, "na")
    assert world.repo.reviews.history(entry.call_id) == []
    assert world.desk.queue_.entry(world["qa@x"], entry.call_id).status == "to_review"
    assert len(audit.rows()) == before
    review = world.desk.override(world["qa@x"], entry.call_id, critical, "na", "not applicable here")
    assert [r.review_id for r in world.repo.reviews.history(entry.call_id)] == [review.review_id]
    assert world.desk.queue_.entry(world["qa@x"], entry.call_id).status == "in_review"
    new = sorted(audit.rows(), key=lambda r: r.seq)[before:]
    assert [(r.action, r.target) for r in new] == [("review", critical), ("queue_status", "in_review")]
    assert new[0].detail["review_id"] == review.review_id and new[1].detail["before"] == "to_review"
    assert audit.verify() == []
    kinds = [e.kind for e in world.desk.timeline(world["qa@x"], entry.call_id)]
    assert kinds.index("queue_status") > kinds.index("queued") and "override" in kinds


def test_timeline_reads_as_a_story(world: World) -> None:
    world.desk.fill(world["admin@x"])
    call = AUTO_FAILED
    qa = world["qa@x"] if world.desk.queue_.entry(world["qa@x"], call).assignee == "qa@x" else world["admin@x"]
    world.desk.override(qa, call, CRITICAL, "pass", "nothing was promised")
    world.desk.override(qa, call, "empathy", "fail")
    world.desk.comment(qa, call, "listen at 1:20")
    world.desk.sign_off(qa, call, "disagree", "critical item was wrong")
    events = world.desk.timeline(world["admin@x"], call)
    kinds = [e.kind for e in events]
    assert kinds[0] == "ai_score" and "auto-failed: Yetki dışı söz vermeme" in events[0].what
    assert kinds.index("queued") < kinds.index("override") < kinds.index("sign_off")
    override = next(e for e in events if e.kind == "override" and e.item_id == CRITICAL)
    assert (override.who, override.before, override.after, override.reason) == (qa.name, "fail", "pass", "nothing was promised")
    assert override.what == "changed “Yetki dışı söz vermeme” from fail to pass"
    assert any(e.kind == "comment" and e.reason == "listen at 1:20" for e in events)
    assert events[-1].what == "signed off: disagrees with the AI"
    assert all(e.when is not None for e in events) and events == sorted(events, key=lambda e: e.when)


def test_dispute_flow_changes_the_score_everywhere_and_keeps_everything(world: World) -> None:
    call = call_of(world, "A001")
    items = _items(world, "a1@x", call)
    item = next(i for i, r in items.items() if r["outcome"] == "fail")
    before = world.repo.list_calls(world["lead@x"]).set_index("call_id").loc[call, "score_pct"]
    with pytest.raises(DisputeError, match="comment is required"):
        world.desk.dispute(world["a1@x"], call, item, "  ")
    d = world.desk.dispute(world["a1@x"], call, item, "I asked at 0:40")
    assert (d.status, d.outcome_at_dispute, d.requested_outcome, d.raised_by) == ("open", "fail", "pass", "a1@x")
    with pytest.raises(DisputeError, match="already has an open dispute"):
        world.desk.dispute(world["a1@x"], call, item, "again")
    assert _items(world, "a1@x", call)[item]["outcome"] == "fail"  # an open dispute changes nothing
    for who in ("qa@x", "a1@x", "lead2@x"):  # a reviewer, the agent, another team's lead
        with pytest.raises(AccessDenied):
            world.desk.resolve(world[who], d.dispute_id, True, "ok")
    with pytest.raises(DisputeError, match="comment is required"):
        world.desk.resolve(world["lead@x"], d.dispute_id, True, "")
    done = world.desk.resolve(world["lead@x"], d.dispute_id, True, "heard it at 0:40")
    assert (done.status, done.decided_by, done.decision_comment) == ("accepted", "lead@x", "heard it at 0:40")
    with pytest.raises(DisputeError, match="already accepted"):
        world.desk.resolve(world["lead@x"], d.dispute_id, False, "changed my mind")
    # the score follows on every read
    after = world.repo.list_calls(world["lead@x"]).set_index("call_id").loc[call, "score_pct"]
    assert after > before
    assert _items(world, "a1@x", call)[item]["outcome"] == "pass"
    assert _items(world, "a1@x", call)[item]["auto_outcome"] == "fail"
    summary = {r["call_id"]: r for r in world.repo.summary_rows(world["admin@x"], [call])}
    assert summary[call]["score_pct"] == pytest.approx(float(after))
    events = world.desk.timeline(world["a1@x"], call)
    assert [e.kind for e in events if e.kind.startswith("dispute")] == ["dispute", "dispute_accepted"]
    assert not [e for e in events if e.kind == "override"]  # the accepted dispute is not shown twice
    assert world.desk.disputes(world["a1@x"], call)[0].status == "accepted"
    assert world.desk.disputes(world["a2@x"]) == []  # another agent sees none of it


def test_rejected_dispute_changes_nothing(world: World) -> None:
    call = call_of(world, "A001")
    item = next(i for i, r in _items(world, "a1@x", call).items() if r["outcome"] == "pass")
    d = world.desk.dispute(world["a1@x"], call, item, "the AI was too kind?")
    assert d.requested_outcome == "fail"
    done = world.desk.resolve(world["admin@x"], d.dispute_id, False, "no")
    assert done.status == "rejected" and _items(world, "a1@x", call)[item]["outcome"] == "pass"
    assert world.desk.timeline(world["lead@x"], call)[-1].kind == "dispute_rejected"


@pytest.mark.parametrize("who, allowed", [("a1@x", True), ("a2@x", False), ("qa@x", False), ("lead@x", False),
                                          ("admin@x", False)])
def test_only_the_agent_disputes_their_own_calls(world: World, who: str, allowed: bool) -> None:
    call = call_of(world, "A001")
    item = next(i for i, r in _items(world, "admin@x", call).items() if r["outcome"] in ("pass", "fail"))
    if allowed:
        assert world.desk.dispute(world[who], call, item, "why").status == "open"
    else:
        with pytest.raises(AccessDenied):
            world.desk.dispute(world[who], call, item, "why")


# role -> may review (override, sign off, comment) the call of A001 (team t1, queue sales)
ROLE_CASES = [("admin@x", True), ("lead@x", True), ("lead2@x", False), ("qa@x", True), ("billing@x", False),
              ("a1@x", False), ("a2@x", False)]


@pytest.mark.parametrize("who, allowed", ROLE_CASES)
def test_who_may_review(world: World, who: str, allowed: bool) -> None:
    call = call_of(world, "A001")
    actions = [lambda: world.desk.override(world[who], call, "empathy", "pass", "ok"),
               lambda: world.desk.comment(world[who], call, "note"),
               lambda: world.desk.sign_off(world[who], call, "agree")]
    for act in actions:
        if allowed:
            act()
        else:
            with pytest.raises(AccessDenied):
                act()
    if not allowed:
        assert world.repo.reviews.history(call) == []


def test_every_action_is_audited_with_ids_not_text(world: World) -> None:
    call = call_of(world, "A001")
    item = next(i for i, r in _items(world, "a1@x", call).items() if r["outcome"] == "fail")
    world.desk.fill(world["admin@x"])
    world.desk.override(world["qa@x"], call, CRITICAL, "fail", "SECRET-REASON words")
    world.desk.comment(world["qa@x"], call, "SECRET-COMMENT words")
    world.desk.sign_off(world["qa@x"], call, "disagree", "SECRET-SIGNOFF")
    d = world.desk.dispute(world["a1@x"], call, item, "SECRET-DISPUTE")
    world.desk.resolve(world["lead@x"], d.dispute_id, True, "SECRET-DECISION")
    from qa.access.query import CallQuery
    world.desk.find_calls(world["qa@x"], CallQuery(text="merhaba SECRETWORD"))
    rows = AuditLog(world.db).rows()
    actions = {r.action for r in rows}
    assert {"queue_fill", "review", "call_comment", "sign_off", "dispute", "dispute_decision", "search"} <= actions
    text = json.dumps([[r.actor, r.action, r.call_id, r.target, r.detail] for r in rows], ensure_ascii=False, default=str)
    assert "SECRET" not in text
    assert AuditLog(world.db).verify() == []


def test_the_older_review_path_obeys_the_reason_rule_too(world: World) -> None:
    """dashboards.data.save_review (today's Call page form) goes through the same repository write."""
    from dashboards import data

    call = call_with(world, CRITICAL, "pass")
    score = world.repo.scores(world["qa@x"], call).iloc[0]
    key = (str(score["rubric_id"]), str(score["rubric_version"]))
    with pytest.raises(ReasonRequired, match="critical item"):
        data.save_review(world.db, world["qa@x"], call, *key, CRITICAL, "fail", "")
    assert data.save_review(world.db, world["qa@x"], call, *key, CRITICAL, "fail", "said 'guaranteed'")
