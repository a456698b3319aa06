"""Calibration (qa/review/calibration.py): Cohen's kappa against a hand computation, override
directions and the tuning ranking, the AI-vs-reviewer report over reviewed calls, and blind
calibration sessions (hidden until closed, never applied to the call), roles and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main as cli
from qa.access.model import AccessDenied
from qa.review.calibration import CalibrationSessions, agreement, item_agreement, kappa
from qa.review.errors import CalibrationError
from tests.review_world import World, call_of, copy_world, make_world


def _hand_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa from its definition: (p_o - p_e) / (1 - p_e)."""
    n = len(a)
    labels = set(a) | set(b)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    p_e = sum((a.count(k) / n) * (b.count(k) / n) for k in labels)
    return (p_o - p_e) / (1 - p_e)


KAPPA_CASES = [
    (["pass", "pass", "fail", "fail"], ["pass", "pass", "fail", "fail"]),
    (["pass", "pass", "fail", "fail"], ["pass", "fail", "fail", "pass"]),
    (["pass", "fail", "na", "pass", "fail", "pass"], ["pass", "pass", "na", "pass", "fail", "fail"]),
    (["pass"] * 8 + ["fail"] * 2, ["pass"] * 7 + ["fail"] * 3),
]


@pytest.mark.parametrize("a, b", KAPPA_CASES)
def test_kappa_matches_the_definition(a: list[str], b: list[str]) -> None:
    assert kappa(a, b) == pytest.approx(_hand_kappa(a, b), abs=1e-3)


@pytest.mark.parametrize("a, b", [([], []), (["pass"] * 3, ["pass"] * 3)])
def test_kappa_undefined(a: list[str], b: list[str]) -> None:
    assert kappa(a, b) is None


# pairs (AI, human) -> pass->fail, fail->pass, other, the advice's first words
DIRECTION_CASES = [
    ([("fail", "pass")] * 4 + [("pass", "pass")] * 4, 0, 4, 0, "AI too strict: reviewers turned 4 of 4 fails into passes"),
    ([("pass", "fail")] * 2 + [("pass", "pass")] * 6, 2, 0, 0, "AI too lenient: reviewers turned 2 of 8 passes into fails"),
    ([("pass", "fail"), ("fail", "pass")] + [("pass", "pass")] * 4, 1, 1, 0, "reviewers changed it both ways"),
    ([("na", "pass")] + [("pass", "pass")] * 5, 0, 0, 1, "reviewers changed whether it applies (n/a) 1 time"),
    ([("pass", "pass")] * 5, 0, 0, 0, "AI and reviewers agree on all 5"),
]


@pytest.mark.parametrize("pairs, p2f, f2p, other, advice", DIRECTION_CASES)
def test_directions_and_advice(pairs, p2f, f2p, other, advice) -> None:
    a = item_agreement("r", "i", "Item", pairs)
    assert (a.pass_to_fail, a.fail_to_pass, a.other_changes) == (p2f, f2p, other)
    assert a.advice.startswith(advice)
    assert a.pairs == len(pairs) and a.agree == sum(x == y for x, y in pairs)


def test_ranking_prefers_many_one_way_changes() -> None:
    one_way = item_agreement("r", "a", "A", [("fail", "pass")] * 5 + [("pass", "pass")] * 5)
    both_ways = item_agreement("r", "b", "B", [("fail", "pass")] * 3 + [("pass", "fail")] * 2 + [("pass", "pass")] * 5)
    few = item_agreement("r", "c", "C", [("fail", "pass")] * 2)
    agree = item_agreement("r", "d", "D", [("pass", "pass")] * 10)
    assert one_way.needs_tuning > both_ways.needs_tuning > agree.needs_tuning == 0
    assert one_way.needs_tuning > few.needs_tuning  # two pairs are too few to be sure


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("calibration-base"))


@pytest.fixture
def world(base: World, tmp_path: Path) -> World:
    return copy_world(base, tmp_path)


def _outcomes(world: World, call_id: str) -> dict[str, str]:
    df = world.repo.item_results(world["admin@x"], call_id)
    return dict(zip(df["item_id"], df["auto_outcome"]))


def test_agreement_report_counts_reviews_and_confirmed_items(world: World) -> None:
    calls = [call_of(world, a) for a in ("A010", "A011", "A012", "A013", "A014", "A015")]
    expected: dict[str, list[tuple[str, str]]] = {}
    for n, call in enumerate(calls):
        ai = _outcomes(world, call)
        changed = {}
        if n < 4:  # four calls: the reviewer turns "empathy" the other way
            new = "pass" if ai["empathy"] == "fail" else "fail"
            world.desk.override(world["qa@x"], call, "empathy", new)
            changed["empathy"] = new
        if n < 5:  # five signed off (everything else confirmed); the sixth only has no review at all
            world.desk.sign_off(world["qa@x"], call, "disagree" if changed else "agree")
            for item, outcome in ai.items():
                expected.setdefault(item, []).append((outcome, changed.get(item, outcome)))
    rep = agreement(world.repo, world["qa@x"])
    assert rep.calls == 5 and rep.pairs == sum(len(p) for p in expected.values())
    by_item = {i.item_id: i for i in rep.items}
    for item, pairs in expected.items():
        got = by_item[item]
        assert got.pairs == len(pairs) and got.agree == sum(x == y for x, y in pairs)
        assert got.kappa == kappa([x for x, _ in pairs], [y for _, y in pairs])
    assert rep.ranking[0].item_id == "empathy" and by_item["empathy"].agree == 1
    # scoped: a queue-limited reviewer sees only their queue's calls
    assert agreement(world.repo, world["billing@x"]).calls < rep.calls
    with pytest.raises(AccessDenied):
        agreement(world.repo, world["a1@x"])


def test_session_is_blind_until_closed_and_never_applied(world: World) -> None:
    sessions = CalibrationSessions(world.repo)
    calls = [call_of(world, "A020"), call_of(world, "A021")]
    s = sessions.create(world["admin@x"], "Kasım kalibrasyonu", calls, ["qa@x", "admin@x"])
    before = world.repo.list_calls(world["admin@x"]).set_index("call_id").loc[calls, "score_pct"].tolist()
    ai = _outcomes(world, calls[0])
    items = list(ai)[:4]
    for item in items:
        sessions.score(world["qa@x"], s.session_id, calls[0], item, "pass")
        sessions.score(world["admin@x"], s.session_id, calls[0], item, "pass" if item != items[0] else "fail")
    sessions.score(world["qa@x"], s.session_id, calls[0], items[1], "fail")  # changed her mind: the latest counts
    assert sessions.mine(world["qa@x"], s.session_id)[(calls[0], items[1])] == "fail"
    assert set(sessions.mine(world["admin@x"], s.session_id).values()) == {"pass", "fail"}
    assert len(sessions.mine(world["qa@x"], s.session_id)) == 4  # only her own
    with pytest.raises(CalibrationError, match="still open"):
        sessions.report(world["qa@x"], s.session_id)
    with pytest.raises(AccessDenied):
        sessions.mine(world["billing@x"], s.session_id)
    with pytest.raises(AccessDenied):
        sessions.close(world["qa@x"], s.session_id)  # only who started it, or an admin
    assert world.repo.list_calls(world["admin@x"]).set_index("call_id").loc[calls, "score_pct"].tolist() == before
    assert world.repo.reviews.history(calls[0]) == []
    sessions.close(world["admin@x"], s.session_id)
    with pytest.raises(CalibrationError, match="closed"):
        sessions.score(world["qa@x"], s.session_id, calls[0], items[0], "pass")
    r = sessions.report(world["qa@x"], s.session_id)
    (a, b, k, n), = r.pairwise
    assert {a, b} == {"qa@x", "admin@x"} and n == 4
    qa = ["pass", "fail", "pass", "pass"]
    lead = ["fail", "pass", "pass", "pass"]
    assert k == kappa(qa, lead)
    assert r.unanimous_share == pytest.approx(2 / 4)
    assert r.missing["qa@x"] == len(_outcomes(world, calls[0])) + len(_outcomes(world, calls[1])) - 4
    row = next(x for x in r.items if x["item_id"] == items[0] and x["call_id"] == calls[0])
    assert row["outcomes"] == {"qa@x": "pass", "admin@x": "fail"} and row["unanimous"] is False and row["ai"] == ai[items[0]]


@pytest.mark.parametrize("who, reviewers, calls, error", [
    ("qa@x", ["qa@x", "lead@x"], None, AccessDenied),
    ("a1@x", ["qa@x", "lead@x"], None, AccessDenied),
    ("admin@x", ["qa@x"], None, CalibrationError),
    ("admin@x", ["qa@x", "a1@x"], None, CalibrationError),
    ("admin@x", ["qa@x", "nobody@x"], None, CalibrationError),
    ("lead@x", ["qa@x", "lead@x"], ["A020"], AccessDenied),  # not the lead's team's call
    ("lead@x", ["qa@x", "lead@x"], ["A001"], None),
    ("admin@x", ["qa@x", "lead@x"], ["A020"], CalibrationError),  # the lead may not open A020's call
])
def test_who_may_start_a_session(world: World, who, reviewers, calls, error) -> None:
    ids = [call_of(world, a) for a in (calls or ["A001"])]
    sessions = CalibrationSessions(world.repo)
    if error is None:
        assert sessions.create(world[who], "s", ids, reviewers).reviewers == tuple(reviewers)
    else:
        with pytest.raises(error):
            sessions.create(world[who], "s", ids, reviewers)


def test_cli(world: World, capsys: pytest.CaptureFixture) -> None:
    db = str(world.db)
    call = call_of(world, "A010")
    world.desk.override(world["qa@x"], call, "empathy", "fail" if _outcomes(world, call)["empathy"] == "pass" else "pass")
    world.desk.sign_off(world["qa@x"], call, "disagree")
    assert cli(["calibration", "report", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Cohen's kappa" in out and "Empati (empathy)" in out and "Items that most need tuning" in out
    assert cli(["calibration", "report", "--db", db, "--as", "a1@x"]) == 1
    assert cli(["calibration", "session", "create", "week 1", "--call", call, "--reviewer", "qa@x", "--reviewer",
                "admin@x", "--db", db]) == 0
    sid = capsys.readouterr().out.split()[1]
    assert cli(["calibration", "session", "score", sid, call, "empathy", "pass", "--as", "qa@x", "--db", db]) == 0
    assert cli(["calibration", "session", "report", sid, "--db", db]) == 2  # still open
    assert cli(["calibration", "session", "close", sid, "--db", db]) == 0
    assert cli(["calibration", "session", "report", sid, "--db", db]) == 0
    assert "left" in capsys.readouterr().out
