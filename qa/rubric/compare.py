"""What-if: score stored calls with two rubric versions and say what would change.

Both versions score the same calls through the fast rescoring path (nothing is stored
unless asked). The result says, per item, how many decisions flip and in which direction;
per agent, how the mean call score moves and how many calls change band; which calls gain
or lose an auto-fail; and, using the reviewers' latest overrides of the old version's
scores, where the machine would now agree with the reviewer (and where it would stop).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from qa.config import Settings
from qa.rescore import RubricChoice, Scored, score_stored
from qa.rubric.schema import Rubric, RubricError
from qa.store import Store

MAX_LISTED = 20  # call ids listed per auto-fail change


@dataclass
class ItemChange:
    item_id: str
    in_old: bool
    in_new: bool
    old: dict[str, int] = field(default_factory=dict)  # outcome -> calls
    new: dict[str, int] = field(default_factory=dict)
    flips: dict[str, int] = field(default_factory=dict)  # "pass->fail" -> calls (only changed decisions)

    @property
    def flipped(self) -> int:
        return sum(self.flips.values())


@dataclass
class AgentShift:
    agent_id: str
    calls: int
    old_mean: float | None
    new_mean: float | None
    band_changes: dict[str, int] = field(default_factory=dict)  # "meets->exceeds" -> calls

    @property
    def delta(self) -> float | None:
        if self.old_mean is None or self.new_mean is None:
            return None
        return round(self.new_mean - self.old_mean, 1)


@dataclass
class ReviewAgreement:
    item_id: str
    reviewed: int = 0  # latest reviews of the old version's item
    overrides: int = 0  # ... that disagreed with the old automatic outcome
    now_agree: int = 0  # overrides the new version's outcome now matches
    confirmed: int = 0  # reviews that agreed with the old outcome
    now_disagree: int = 0  # ... that the new version's outcome no longer matches


@dataclass
class Comparison:
    old: str  # "id@version"
    new: str
    calls: int  # scored with both
    skipped: int  # not scored (other language, not stored ok)
    items: list[ItemChange]
    agents: list[AgentShift]
    auto_fail_appear: list[str]
    auto_fail_disappear: list[str]
    reviews: list[ReviewAgreement]
    mean_old: float | None = None
    mean_new: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for item, src in zip(d["items"], self.items):
            item["flipped"] = src.flipped
        for agent, src in zip(d["agents"], self.agents):
            agent["delta"] = src.delta
        return d


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def compare(
    store: Store,
    settings: Settings,
    old: Rubric,
    new: Rubric,
    call_ids: list[str],
    save: bool = False,
    workers: int | None = None,
    batch_size: int | None = None,
) -> Comparison:
    """Score `call_ids` with `old` and `new` (calls in their language); with `save`, store `new`'s scores."""
    if old.language != new.language:
        raise RubricError(f"the rubrics are for different languages ({old.language!r} and {new.language!r})")
    order = [i.id for _, i in new.items()] + [i.id for _, i in old.items() if i.id not in {x.id for _, x in new.items()}]
    old_ids, new_ids = {i.id for _, i in old.items()}, {i.id for _, i in new.items()}
    items = {i: ItemChange(i, i in old_ids, i in new_ids) for i in order}
    old_c: dict[str, Counter] = {i: Counter() for i in order}
    new_c: dict[str, Counter] = {i: Counter() for i in order}
    flips: dict[str, Counter] = {i: Counter() for i in order}
    per_agent: dict[str, dict[str, list]] = {}
    appear: list[str] = []
    disappear: list[str] = []
    both = skipped = 0
    old_scores: list[float] = []
    new_scores: list[float] = []
    from qa.reviews import ReviewStore

    latest = {k: v for k, v in ReviewStore(store.path).latest_all().items() if k[1] == old.id and k[2] == old.version}
    agree: dict[str, ReviewAgreement] = {}
    if save:
        store.init()
    kwargs = {"batch_size": batch_size} if batch_size else {}
    for _, (row_old, row_new) in score_stored(store, settings, [RubricChoice(settings, old), RubricChoice(settings, new)],
                                               call_ids, workers=workers, **kwargs):
        if save:
            store.save_scores_many([(s.outcome.call_id, s.items, s.score) for s in row_new if s.score is not None])
        for a, b in zip(row_old, row_new):
            if a.score is None or b.score is None:
                skipped += 1
                continue
            both += 1
            _tally(a, b, old_c, new_c, flips)
            agent = per_agent.setdefault(a.agent_id or "(none)", {"old": [], "new": [], "bands": Counter(), "n": 0})
            agent["n"] += 1
            if a.score.score_pct is not None:
                agent["old"].append(a.score.score_pct)
                old_scores.append(a.score.score_pct)
            if b.score.score_pct is not None:
                agent["new"].append(b.score.score_pct)
                new_scores.append(b.score.score_pct)
            if a.score.band != b.score.band:
                agent["bands"][f"{a.score.band}->{b.score.band}"] += 1
            if b.score.auto_failed and not a.score.auto_failed:
                appear.append(a.outcome.call_id)
            elif a.score.auto_failed and not b.score.auto_failed:
                disappear.append(a.outcome.call_id)
            reviews = latest.get((a.outcome.call_id, old.id, old.version))
            if reviews:
                _agreement(reviews, a, b, agree)
    for i in order:
        items[i].old, items[i].new, items[i].flips = dict(old_c[i]), dict(new_c[i]), dict(flips[i])
    agents = [
        AgentShift(agent, v["n"], _mean(v["old"]), _mean(v["new"]), dict(v["bands"]))
        for agent, v in sorted(per_agent.items())
    ]
    return Comparison(
        f"{old.id}@{old.version}", f"{new.id}@{new.version}", both, skipped, [items[i] for i in order], agents,
        sorted(appear), sorted(disappear), [agree[i] for i in order if i in agree], _mean(old_scores), _mean(new_scores),
    )


def _tally(a: Scored, b: Scored, old_c, new_c, flips) -> None:
    before = {r.item_id: r.outcome for r in a.items}
    after = {r.item_id: r.outcome for r in b.items}
    for item_id, outcome in before.items():
        old_c[item_id][outcome] += 1
    for item_id, outcome in after.items():
        new_c[item_id][outcome] += 1
        was = before.get(item_id)
        if was is not None and was != outcome:
            flips[item_id][f"{was}->{outcome}"] += 1


def _agreement(reviews: dict, a: Scored, b: Scored, agree: dict[str, ReviewAgreement]) -> None:
    before = {r.item_id: r.outcome for r in a.items}
    after = {r.item_id: r.outcome for r in b.items}
    for item_id, review in reviews.items():
        if item_id not in before or item_id not in after:
            continue
        row = agree.setdefault(item_id, ReviewAgreement(item_id))
        row.reviewed += 1
        if before[item_id] != review.outcome:
            row.overrides += 1
            row.now_agree += after[item_id] == review.outcome
        else:
            row.confirmed += 1
            row.now_disagree += after[item_id] != review.outcome
