"""The review queue (qa/review/queue.py, sampling.py): each rule picks the calls it should with a
reason in plain words, the random sample is reproducible, a fill is idempotent, calls go to
reviewers whose scope covers them, next/previous, statuses, rules and who may set them, the CLI."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main as cli
from qa.access.model import AccessDenied
from qa.review.errors import QueueError
from qa.review.sampling import RulesError, SamplingRules
from tests.review_world import (
    AUTO_FAILED, NEAR_THRESHOLD, ROLES_UNCERTAIN, SENTIMENT_FELL, World, copy_world, make_world,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("queue-base"))


@pytest.fixture
def world(base: World, tmp_path: Path) -> World:
    return copy_world(base, tmp_path)


def _fresh(base: World, root: Path) -> World:
    root.mkdir()
    return copy_world(base, root)


def _all(world: World) -> dict[str, object]:
    return {e.call_id: e for e in world.desk.queue(world["admin@x"], assignee=None)}


# (call, reason code, words the reason must contain)
REASONS = [
    (AUTO_FAILED, "auto_fail", "AI auto-failed: Yetki dışı söz vermeme"),
    (ROLES_UNCERTAIN, "roles_uncertain", "roles uncertain (agent/customer 41 % sure)"),
    (SENTIMENT_FELL, "sentiment_falling", "customer sentiment fell (+0.30 → -0.55)"),
    (NEAR_THRESHOLD, "near_threshold", "decided near its threshold: Selamlama ve firma adı (83 vs 82)"),
]


@pytest.mark.parametrize("call, code, words", REASONS)
def test_each_rule_picks_its_calls_with_a_reason(world: World, call: str, code: str, words: str) -> None:
    world.desk.set_rules(world["admin@x"], SamplingRules(per_agent_week=0))  # no random sample: only the reasons
    world.desk.fill(world["admin@x"])
    entries = _all(world)
    assert code in entries[call].reason_codes and words in entries[call].reasons
    assert {c for e in entries.values() for c in e.reason_codes} == {r[1] for r in REASONS}
    assert len(entries) == len(REASONS)


@pytest.mark.parametrize("rule, call", [({"auto_fail": False}, AUTO_FAILED), ({"roles_uncertain_below": None}, ROLES_UNCERTAIN),
                                        ({"sentiment_falling": False}, SENTIMENT_FELL),
                                        ({"near_threshold": False}, NEAR_THRESHOLD),
                                        ({"near_margin": 0.005}, NEAR_THRESHOLD)])
def test_a_rule_switched_off_picks_nothing(world: World, rule: dict, call: str) -> None:
    world.desk.set_rules(world["admin@x"], SamplingRules(per_agent_week=0, **rule))
    world.desk.fill(world["admin@x"])
    assert call not in _all(world)


def test_random_sample_is_n_per_agent_week_and_reproducible(world: World, tmp_path: Path, base: World) -> None:
    world.desk.set_rules(world["admin@x"], SamplingRules(per_agent_week=1, seed=7, auto_fail=False,
                                                         roles_uncertain_below=None, sentiment_falling=False,
                                                         near_threshold=False))
    first = world.desk.fill(world["admin@x"])
    picked = sorted(_all(world))
    con = duckdb.connect(str(world.db), read_only=True)
    agents = dict(con.execute("SELECT call_id, agent_id FROM calls").fetchall())
    n_agents = con.execute("SELECT count(DISTINCT agent_id) FROM calls WHERE status = 'ok'").fetchone()[0]
    con.close()
    assert first.added == n_agents and Counter(agents[c] for c in picked) == Counter({a: 1 for a in set(agents[c] for c in picked)})
    assert all(e.reasons[0].startswith("random sample (1 of 1 for Agent ") for e in _all(world).values())
    again = _fresh(base, tmp_path / "again")
    again.desk.set_rules(again["admin@x"], SamplingRules(per_agent_week=1, seed=7, auto_fail=False,
                                                         roles_uncertain_below=None, sentiment_falling=False,
                                                         near_threshold=False))
    again.desk.fill(again["admin@x"])
    assert sorted(_all(again)) == picked  # same rules, same calls: same sample
    other = _fresh(base, tmp_path / "other")
    other.desk.set_rules(other["admin@x"], SamplingRules(per_agent_week=1, seed=8, auto_fail=False,
                                                         roles_uncertain_below=None, sentiment_falling=False,
                                                         near_threshold=False))
    other.desk.fill(other["admin@x"])
    assert sorted(_all(other)) != picked  # another seed draws other calls


def test_fill_is_idempotent_and_keeps_status(world: World) -> None:
    first = world.desk.fill(world["admin@x"])
    assert first.added > 0 and first.unchanged == 0
    some = next(iter(_all(world).values()))
    world.desk.set_status(world[some.assignee], some.call_id, "in_review")
    second = world.desk.fill(world["admin@x"])
    assert (second.added, second.updated, second.unchanged) == (0, 0, first.added)
    assert _all(world)[some.call_id].status == "in_review" and len(_all(world)) == first.added


def test_calls_go_to_reviewers_whose_scope_covers_them(world: World) -> None:
    world.desk.fill(world["admin@x"])
    entries = _all(world).values()
    assert {e.assignee for e in entries} == {"qa@x", "billing@x"}
    assert all(e.queue == "billing" for e in entries if e.assignee == "billing@x")
    load = Counter(e.assignee for e in entries)
    assert abs(load["qa@x"] - load["billing@x"]) <= len(entries) // 2  # spread, not all on one
    mine = world.desk.queue(world["billing@x"])
    assert mine and all(e.assignee == "billing@x" for e in mine)


def test_team_lead_fills_only_their_teams_calls(world: World) -> None:
    result = world.desk.fill(world["lead@x"])
    con = duckdb.connect(str(world.db), read_only=True)
    agents = dict(con.execute("SELECT call_id, agent_id FROM calls").fetchall())
    con.close()
    assert result.added > 0 and {agents[c] for c in _all(world)} <= {"A001", "A002"}


def test_next_and_previous(world: World) -> None:
    world.desk.fill(world["admin@x"])
    q = world.desk.queue(world["qa@x"])
    ids = [e.call_id for e in q]
    n = world.desk.neighbours(world["qa@x"], ids[1])
    assert (n.previous, n.next, n.position, n.total) == (ids[0], ids[2], 2, len(ids))
    world.desk.sign_off(world["qa@x"], ids[2], "agree")  # done calls are skipped going forward
    assert world.desk.neighbours(world["qa@x"], ids[1]).next == ids[3]
    assert world.desk.neighbours(world["qa@x"], ids[3]).previous == ids[2]  # ... but not going back
    assert world.desk.neighbours(world["qa@x"], ids[-1]).next is None
    assert [e.call_id for e in world.desk.queue(world["qa@x"])] == ids  # order stays put
    assert world.desk.neighbours(world["qa@x"], "call-not-queued").next == ids[0]


def test_status_rules(world: World) -> None:
    world.desk.fill(world["admin@x"])
    e = world.desk.queue(world["qa@x"])[0]
    with pytest.raises(QueueError):
        world.desk.set_status(world["qa@x"], e.call_id, "finished")
    with pytest.raises(AccessDenied):
        world.desk.set_status(world["billing@x"], e.call_id, "done") if e.queue == "billing" else \
            world.desk.set_status(world["a1@x"], e.call_id, "done")
    assert world.desk.set_status(world["qa@x"], e.call_id, "done").status == "done"
    assert [x.call_id for x in world.desk.queue(world["qa@x"], status="done")] == [e.call_id]


# who -> may fill, may set default rules, may set team t1's rules, has a queue
ROLES = [("admin@x", True, True, True, True), ("lead@x", True, False, True, True),
         ("lead2@x", True, False, False, True), ("qa@x", False, False, False, True),
         ("a1@x", False, False, False, False)]


@pytest.mark.parametrize("who, fill, default_rules, team_rules, queue", ROLES)
def test_roles(world: World, who: str, fill: bool, default_rules: bool, team_rules: bool, queue: bool) -> None:
    v = world[who]
    for allowed, act in ((fill, lambda: world.desk.fill(v)),
                         (default_rules, lambda: world.desk.set_rules(v, SamplingRules(per_agent_week=3))),
                         (team_rules, lambda: world.desk.set_rules(v, SamplingRules(team="t1", per_agent_week=1))),
                         (queue, lambda: world.desk.queue(v))):
        if allowed:
            act()
        else:
            with pytest.raises(AccessDenied):
                act()


def test_team_rules_override_the_default_for_their_agents(world: World) -> None:
    world.desk.set_rules(world["admin@x"], SamplingRules(per_agent_week=0, auto_fail=False))
    world.desk.set_rules(world["lead@x"], SamplingRules(team="t1", per_agent_week=2, auto_fail=True))
    assert world.desk.rules(world["qa@x"], "t1").per_agent_week == 2 and world.desk.rules(world["qa@x"]).per_agent_week == 0
    world.desk.fill(world["admin@x"])
    con = duckdb.connect(str(world.db), read_only=True)
    agents = dict(con.execute("SELECT call_id, agent_id FROM calls").fetchall())
    con.close()
    queued = _all(world)
    sampled = {agents[c] for c, e in queued.items() if "sample" in e.reason_codes}
    assert sampled == {"A001", "A002"} and AUTO_FAILED in queued  # A001's auto-fail: t1's rules say yes


@pytest.mark.parametrize("data", [{"per_agent_week": -1}, {"per_agent_week": 101}, {"near_margin": 2},
                                  {"roles_uncertain_below": 1.5}, {"colour": "red"}])
def test_bad_rules_say_which_field(data: dict) -> None:
    with pytest.raises(RulesError, match="sampling rule"):
        SamplingRules.parse(data)


def test_cli(world: World, capsys: pytest.CaptureFixture) -> None:
    db = str(world.db)
    assert cli(["queue", "rules", "set", "--per-agent-week", "1", "--near-margin", "0.02", "--db", db]) == 0
    assert cli(["queue", "fill", "--db", db]) == 0
    assert "call(s) added" in capsys.readouterr().out
    assert cli(["queue", "fill", "--db", db]) == 0
    assert " 0 call(s) added" in capsys.readouterr().out
    assert cli(["queue", "list", "--as", "qa@x", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "random sample" in out and "qa@x" in out
    assert cli(["queue", "list", "--as", "a1@x", "--db", db]) == 1
    assert cli(["queue", "rules", "set", "--team", "t2", "--as", "lead@x", "--db", db]) == 1
    assert cli(["queue", "rules", "set", "--per-agent-week", "500", "--db", db]) == 2
    assert cli(["queue", "list", "--as", "nobody@x", "--db", db]) == 2
