"""Conversation metrics from per-speaker speech activity: talk ratio, overtalk, interruptions,
dead air, holds, speaking rate, agent response latency, longest monologue.

Everything is computed from the speech-activity turns (diarization / channel VAD), not from
transcript segment times, which whisper stretches over pauses. Words are used only to count
words for the speaking rate. Definitions (all times in seconds):

* Turns are grouped by role (agent | customer; "unknown" only counts as "someone speaking").
  A role's turns are unioned and turns separated by less than `merge_gap_s` are merged.
  Hold segments are cut out of every role's speech: hold music on the agent channel is not talk.
* `agent_talk_s`, `customer_talk_s`: length of the role's merged speech.
  `talk_ratio_agent` = agent_talk / (agent_talk + customer_talk) (likewise for the customer);
  None when nobody talked.
* `overtalk_s`: time during which agent and customer speak at once.
* Interruption: a turn of role B starts while role A is speaking, A's turn had started at least
  `min_lead_s` before (not a simultaneous start), B's turn lasts at least `backchannel_s`
  (shorter ones, "evet", "hı hı", are back-channels) and the two overlap for at least
  `min_overlap_s`. `Interruption(by=B, of=A, at_s, overlap_s)`.
* Dead air: stretches with nobody speaking, between the first speech start and the last speech
  end, outside holds. `dead_air_total_s` sums the stretches of at least `min_dead_air_s`;
  `dead_air_longest_s` is the longest stretch of any length; `dead_air_count` counts those
  of at least `min_dead_air_s`.
* `hold_count`, `hold_total_s`: from the holds passed in (see `qa.holds`).
* Speaking rate (`agent_wpm`, `customer_wpm`): words in the role's utterances per minute of the
  role's talk time; None when the role has no words or no talk.
* Agent response latency: for each customer turn at whose end the agent is silent, the gap to
  the next turn start if that next turn is the agent's (the customer continuing, or a hold in
  between, gives no sample). Mean and max; None without a sample.
* Monologue: a run of one role's turns separated by pauses shorter than `monologue_gap_s`
  with nothing from the other role in between except back-channels (< `backchannel_s`);
  a hold ends a monologue. `longest_monologue_<role>_s` is the longest run's span.

Mono recordings come from diarization that gives one speaker per frame, so overlaps (and
therefore overtalk and interruptions) are mostly invisible there: the metrics report what the
activity shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Interval = tuple[float, float]
ROLES = ("agent", "customer")


@dataclass
class Interruption:
    by: str  # role that cut in
    of: str  # role that was speaking
    at_s: float
    overlap_s: float


@dataclass
class ConversationMetrics:
    duration_s: float
    talk_ratio_agent: float | None
    talk_ratio_customer: float | None
    agent_talk_s: float
    customer_talk_s: float
    overtalk_s: float
    interruptions_by_agent: int
    interruptions_by_customer: int
    dead_air_total_s: float | None
    dead_air_longest_s: float | None
    dead_air_count: int
    silence_ratio: float | None
    hold_count: int
    hold_total_s: float
    agent_wpm: float | None
    customer_wpm: float | None
    agent_response_latency_mean_s: float | None
    agent_response_latency_max_s: float | None
    longest_monologue_agent_s: float | None
    longest_monologue_customer_s: float | None
    agent_turns: int
    customer_turns: int
    interruptions: list[Interruption] = field(default_factory=list)

    def as_dict(self) -> dict[str, float | None]:
        """Flat numeric values (stable snake_case names) for rubrics and the store; None = not computable."""
        out = asdict(self)
        out.pop("interruptions")
        return {k: (float(v) if v is not None else None) for k, v in out.items()}


# ---------------------------------------------------------------- interval helpers


def merge_intervals(intervals: Iterable[Interval], gap: float = 0.0) -> list[Interval]:
    """Union of intervals; neighbours separated by less than `gap` are joined."""
    out: list[list[float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in intervals if e > s):
        if out and (s <= out[-1][1] or s - out[-1][1] < gap):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def subtract_intervals(intervals: Sequence[Interval], cuts: Sequence[Interval]) -> list[Interval]:
    """`intervals` minus every cut (both sorted unions)."""
    out: list[Interval] = []
    for s, e in intervals:
        pieces = [(s, e)]
        for cs, ce in cuts:
            nxt = []
            for ps, pe in pieces:
                if ce <= ps or cs >= pe:
                    nxt.append((ps, pe))
                    continue
                if cs > ps:
                    nxt.append((ps, cs))
                if ce < pe:
                    nxt.append((ce, pe))
            pieces = nxt
        out.extend(pieces)
    return out


def intersect_total(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Total length of the intersection of two sorted unions."""
    i = j = 0
    total = 0.0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def total_length(intervals: Iterable[Interval]) -> float:
    return sum(e - s for s, e in intervals)


def _hold_intervals(holds: Iterable[Any]) -> list[Interval]:
    """Holds as intervals: objects with `start_s`/`end_s` (e.g. `qa.holds.Hold`) or (start, end) pairs."""
    spans = []
    for h in holds:
        if hasattr(h, "start_s"):
            spans.append((float(h.start_s), float(h.end_s)))
        else:
            spans.append((float(h[0]), float(h[1])))
    return merge_intervals(spans)


def role_speech(
    activity: Iterable[tuple[str, str, float, float]], merge_gap_s: float = 0.3, holds: Sequence[Interval] = ()
) -> dict[str, list[Interval]]:
    """Merged speech intervals per role (agent, customer, unknown), hold segments cut out."""
    by_role: dict[str, list[Interval]] = {"agent": [], "customer": [], "unknown": []}
    for _speaker, role, start, end in activity:
        by_role.setdefault(role if role in by_role else "unknown", []).append((start, end))
    return {r: subtract_intervals(merge_intervals(v, merge_gap_s), holds) for r, v in by_role.items()}


# ---------------------------------------------------------------- the metrics


def find_interruptions(
    speech: dict[str, list[Interval]], min_overlap_s: float, min_lead_s: float, backchannel_s: float
) -> list[Interruption]:
    found: list[Interruption] = []
    for by, of in (("agent", "customer"), ("customer", "agent")):
        for s, e in speech[by]:
            if e - s < backchannel_s:
                continue
            for os_, oe in speech[of]:
                if os_ <= s - min_lead_s and s < oe:
                    overlap = min(e, oe) - s
                    if overlap >= min_overlap_s:
                        found.append(Interruption(by, of, round(s, 3), round(overlap, 3)))
                    break
    return sorted(found, key=lambda i: i.at_s)


def _gaps(speech: Sequence[Interval]) -> list[Interval]:
    return [(a[1], b[0]) for a, b in zip(speech, speech[1:]) if b[0] > a[1]]


def response_latencies(speech: dict[str, list[Interval]], holds: Sequence[Interval]) -> list[float]:
    """Customer turn end -> the agent's next turn start, when the agent is the next to speak."""
    agent, customer = speech["agent"], speech["customer"]
    out = []
    for _cs, ce in customer:
        if any(s <= ce < e for s, e in agent):
            continue  # the agent was already talking: overtalk, not a response
        nxt_agent = min((s for s, _ in agent if s >= ce), default=None)
        nxt_customer = min((s for s, _ in customer if s > ce), default=None)
        if nxt_agent is None or (nxt_customer is not None and nxt_customer < nxt_agent):
            continue
        if any(hs < nxt_agent and he > ce for hs, he in holds):
            continue
        out.append(nxt_agent - ce)
    return out


def longest_monologue(
    mine: Sequence[Interval], other: Sequence[Interval], holds: Sequence[Interval], gap_s: float, backchannel_s: float
) -> float | None:
    if not mine:
        return None
    breaks = [iv for iv in other if iv[1] - iv[0] >= backchannel_s] + list(holds)
    best = 0.0
    run_s, run_e = mine[0]
    for s, e in list(mine[1:]) + [(float("inf"), float("inf"))]:
        broken = s - run_e >= gap_s or any(bs < s and be > run_e for bs, be in breaks)
        if broken:
            best = max(best, run_e - run_s)
            run_s, run_e = s, e
        else:
            run_e = max(run_e, e)
    return round(best, 3)


def _word_count(utterances: Iterable[Any], role: str) -> int:
    n = 0
    for u in utterances:
        if u.role == role:
            n += len(u.words) if u.words else len(u.text.split())
    return n


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def conversation_metrics(
    activity: Iterable[tuple[str, str, float, float]],
    utterances: Iterable[Any],
    duration_s: float,
    holds: Iterable[Any] = (),
    min_overlap_s: float = 0.5,
    min_lead_s: float = 0.5,
    backchannel_s: float = 1.0,
    merge_gap_s: float = 0.3,
    min_dead_air_s: float = 2.0,
    monologue_gap_s: float = 2.0,
) -> ConversationMetrics:
    """All conversation metrics of one call (definitions in the module docstring)."""
    utterances = list(utterances)
    hold_spans = _hold_intervals(holds)
    speech = role_speech(activity, merge_gap_s, hold_spans)
    agent, customer = speech["agent"], speech["customer"]
    agent_s, customer_s = total_length(agent), total_length(customer)
    talk = agent_s + customer_s

    anyone = merge_intervals(agent + customer + speech["unknown"])
    gaps = subtract_intervals(_gaps(anyone), hold_spans)
    lengths = [e - s for s, e in gaps]
    long_gaps = [x for x in lengths if x >= min_dead_air_s]
    dead_total = sum(long_gaps) if anyone else None

    interruptions = find_interruptions(speech, min_overlap_s, min_lead_s, backchannel_s)
    latencies = response_latencies(speech, hold_spans)

    def wpm(role: str, talk_s: float) -> float | None:
        words = _word_count(utterances, role)
        return round(words / (talk_s / 60.0), 1) if words and talk_s > 0 else None

    return ConversationMetrics(
        duration_s=round(duration_s, 3),
        talk_ratio_agent=_r(agent_s / talk) if talk > 0 else None,
        talk_ratio_customer=_r(customer_s / talk) if talk > 0 else None,
        agent_talk_s=round(agent_s, 3),
        customer_talk_s=round(customer_s, 3),
        overtalk_s=round(intersect_total(agent, customer), 3),
        interruptions_by_agent=sum(i.by == "agent" for i in interruptions),
        interruptions_by_customer=sum(i.by == "customer" for i in interruptions),
        dead_air_total_s=_r(dead_total),
        dead_air_longest_s=_r(max(lengths, default=0.0)) if anyone else None,
        dead_air_count=len(long_gaps),
        silence_ratio=_r(dead_total / duration_s) if dead_total is not None and duration_s > 0 else None,
        hold_count=len(hold_spans),
        hold_total_s=round(total_length(hold_spans), 3),
        agent_wpm=wpm("agent", agent_s),
        customer_wpm=wpm("customer", customer_s),
        agent_response_latency_mean_s=_r(sum(latencies) / len(latencies)) if latencies else None,
        agent_response_latency_max_s=_r(max(latencies)) if latencies else None,
        longest_monologue_agent_s=longest_monologue(agent, customer, hold_spans, monologue_gap_s, backchannel_s),
        longest_monologue_customer_s=longest_monologue(customer, agent, hold_spans, monologue_gap_s, backchannel_s),
        agent_turns=len(agent),
        customer_turns=len(customer),
        interruptions=interruptions,
    )
