"""Evaluate one rubric check against a call: which utterances are in scope, and did it pass.

Every check returns an `Outcome` with its status (pass / fail / na), a readable reason,
the method, and its evidence: the utterance that decided it (text, speaker, time) and the
similarity, or for metric checks the value against the threshold. Event windows ("the
30 s before each hold") are checked once per event; all events must pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from qa.rubric.matching import best_match, negated
from qa.rubric.schema import (
    AllOf, AnyOf, FuzzyCheck, MetricCheck, PhraseCheck, RegexCheck, SemanticCheck, SentimentCheck, Window,
)
from qa.text import fold, lower

if TYPE_CHECKING:
    from qa.rubric.engine import CallContext
    from qa.rubric.schema import Rubric


@dataclass
class Outcome:
    status: str  # pass | fail | na
    reason: str
    method: str
    utterance: Any | None = None
    similarity: float | None = None
    at: tuple[float, float] | None = None  # evidence time when no utterance decided it
    value: float | None = None  # metric / sentiment value behind the decision
    extra: dict[str, Any] = field(default_factory=dict)


def clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


_EXPANDED: dict[tuple, tuple] = {}


def _expand(rubric: "Rubric", phrases: list[str], variables: dict[str, list[str]]) -> list[str]:
    """`rubric.expand`, remembered per rubric, phrase list and call variables (a batch asks the same often)."""
    key = (id(rubric), tuple(phrases), tuple((k, tuple(v)) for k, v in sorted(variables.items())))
    hit = _EXPANDED.get(key)
    if hit is None or hit[0] is not rubric:
        if len(_EXPANDED) > 50_000:
            _EXPANDED.clear()
        hit = _EXPANDED[key] = (rubric, rubric.expand(phrases, variables))
    return list(hit[1])


# ---- scope -------------------------------------------------------------------------------

def _who(speaker: str) -> str:
    return "anyone" if speaker == "any" else f"the {speaker}"


def scopes(utterances, speaker: str, window: Window | None, ctx: "CallContext") -> list[tuple[str, list]] | None:
    """Groups of in-scope utterances with a description; None when the window's event never happened."""
    spoken = [u for u in utterances if speaker == "any" or u.role == speaker]
    if window is None:
        return [(f"{_who(speaker)} (whole call)", spoken)]
    if window.first_s is not None:
        return [(f"{_who(speaker)} in the first {window.first_s:g} s", [u for u in spoken if u.start <= window.first_s])]
    if window.last_s is not None:
        edge = ctx.duration_s - window.last_s
        return [(f"{_who(speaker)} in the last {window.last_s:g} s", [u for u in spoken if u.end >= edge])]
    events = ctx.events.get(window.event or "", [])
    if not events:
        return None
    groups = []
    for start, end in events:
        if window.before_s is not None:
            lo, hi = start - window.before_s, start + 1.0
            where = f"{_who(speaker)} in the {window.before_s:g} s before the {window.event} at {clock(start)}"
        else:
            lo, hi = end - 1.0, end + (window.after_s or 0)
            where = f"{_who(speaker)} in the {window.after_s:g} s after the {window.event} ending {clock(end)}"
        groups.append((where, [u for u in spoken if u.end >= lo and u.start <= hi]))
    return groups


def _per_scope(check, utterances, ctx: "CallContext", judge) -> Outcome:
    """Run `judge(group, where)` on each scope group; the first failure decides, else the weakest pass."""
    groups = scopes(utterances, check.speaker, check.window, ctx)
    if groups is None:
        return Outcome("na", f"not applicable: no {check.window.event} in this call", check.type)
    passes = []
    for where, group in groups:
        out = judge(group, where)
        if out.status == "fail":
            return out
        passes.append(out)
    with_sim = [o for o in passes if o.similarity is not None]
    return min(with_sim, key=lambda o: o.similarity) if with_sim else passes[0]


# ---- text checks ----------------------------------------------------------------------------

def _phrases(check: PhraseCheck, rubric: "Rubric", utterances, ctx: "CallContext") -> Outcome:
    lang = rubric.language

    def judge(group, where) -> Outcome:
        if check.none:
            hit = best_match(_expand(rubric, check.none, ctx.variables), group, lang, check.threshold, reject_negated=True,
                             matcher=ctx.matcher)
            if hit:
                u = _by_idx(group, hit.utterance_idx)
                return Outcome("fail", f"said a forbidden phrase ~ {hit.phrase!r}", "phrases", u, hit.similarity)
        if check.all:
            found = []
            for phrase in _expand(rubric, check.all, ctx.variables):
                hit = best_match([phrase], group, lang, check.threshold, matcher=ctx.matcher)
                if hit is None:
                    return Outcome("fail", f"{phrase!r} not said by {where}", "phrases")
                found.append(hit)
            weakest = min(found, key=lambda h: h.similarity)
            return Outcome("pass", f"all {len(found)} phrases said", "phrases",
                           _by_idx(group, weakest.utterance_idx), weakest.similarity)
        if check.any:
            phrases = _expand(rubric, check.any, ctx.variables)
            hit = best_match(phrases, group, lang, check.threshold, matcher=ctx.matcher)
            if hit is not None:
                return Outcome("pass", f"matched {hit.phrase!r}", "phrases", _by_idx(group, hit.utterance_idx), hit.similarity)
            heard = _name_heard(check.any, rubric, group, ctx, lang)
            if heard is not None:
                return heard
            if check.semantic is not None:
                sem = _semantic_best(phrases, group, ctx, lang)
                if sem and sem[1] >= check.semantic:
                    u, sim, example = sem
                    return Outcome("pass", f"means the same as {example!r} (semantic {sim:.2f})", "semantic",
                                   u, round(100 * sim, 1))
            return Outcome("fail", f"{_listed(phrases)} said by {where}", "phrases")
        return Outcome("pass", "no forbidden phrase said", "phrases")

    return _per_scope(check, utterances, ctx, judge)


def _name_heard(phrases: list[str], rubric: "Rubric", group, ctx: "CallContext", lang: str) -> Outcome | None:
    """A name placeholder (`{company}`, `{agent_name}`, ...) heard wrong but close in sound
    (`qa.rubric.names`): the best such utterance, or None."""
    from qa.rubric.names import NAME_THRESHOLD, is_name_phrase, name_similarity

    best = None
    for name in rubric.expand([p for p in phrases if is_name_phrase(p)], ctx.variables):
        for u in group:
            sim, span = name_similarity(name, u.text, lang)
            if sim >= NAME_THRESHOLD and (best is None or sim > best[1]):
                best = (u, sim, name, " ".join(u.text.split()[span[0]:span[1]]))
    if best is None:
        return None
    u, sim, name, said = best
    return Outcome("pass", f"heard {said!r}, which sounds like {name!r}", "name-sound", u, sim)


def _listed(phrases: list[str]) -> str:
    if len(phrases) <= 3:
        return "none of " + ", ".join(repr(p) for p in phrases)
    return f"none of {len(phrases)} expected phrases ({phrases[0]!r}, ...)"


def _by_idx(group, idx: int):
    return next(u for u in group if u.idx == idx)


def _regex(check: RegexCheck, rubric: "Rubric", utterances, ctx: "CallContext") -> Outcome:
    # time-bounded matching (`regex` package): a pattern past its bound raises RegexTimeout
    from qa.rubric.regex_safety import search

    lang = rubric.language

    def judge(group, where) -> Outcome:
        for u in group:
            text = lower(u.text, lang)
            for pat in check.none:
                if search(pat, text):
                    return Outcome("fail", f"forbidden pattern {pat!r} matched", "regex", u, 100.0)
        if not check.any:
            return Outcome("pass", "no forbidden pattern matched", "regex")
        for u in group:
            text = lower(u.text, lang)
            for pat in check.any:
                if search(pat, text):
                    return Outcome("pass", f"pattern {pat!r} matched", "regex", u, 100.0)
        return Outcome("fail", f"no pattern matched in what {where} said", "regex")

    return _per_scope(check, utterances, ctx, judge)


def _fuzzy(check: FuzzyCheck, rubric: "Rubric", utterances, ctx: "CallContext") -> Outcome:
    lang = rubric.language
    scorer = getattr(fuzz, check.scorer)

    def best(phrases, group):
        top = None
        for phrase in phrases:
            p = fold(phrase, lang)
            for u in group:
                sim = scorer(p, fold(u.text, lang))
                if top is None or sim > top[1]:
                    top = (u, sim, phrase)
        return top

    def judge(group, where) -> Outcome:
        if check.none:
            top = best(_expand(rubric, check.none, ctx.variables), group)
            if top and top[1] >= check.threshold:
                return Outcome("fail", f"said a forbidden phrase ~ {top[2]!r}", "fuzzy", top[0], round(top[1], 1))
        if not check.any:
            return Outcome("pass", "no forbidden phrase said", "fuzzy")
        phrases = _expand(rubric, check.any, ctx.variables)
        top = best(phrases, group)
        if top and top[1] >= check.threshold:
            return Outcome("pass", f"matched {top[2]!r}", "fuzzy", top[0], round(top[1], 1))
        closest = f" (closest {top[1]:.0f} < {check.threshold:g})" if top else ""
        return Outcome("fail", f"none of {len(phrases)} phrases said by {where}{closest}", "fuzzy")

    return _per_scope(check, utterances, ctx, judge)


# ---- semantic -------------------------------------------------------------------------------

_SPLIT = re.compile(r"(?<=[.!?;,])\s+")


def chunks(text: str, size: int = 14, stride: int = 7) -> list[str]:
    """Sentence-ish pieces of an utterance, so a long turn does not dilute one sentence's meaning."""
    out = []
    for sentence in _SPLIT.split(text.strip()):
        tokens = sentence.split()
        if not tokens:
            continue
        if len(tokens) <= size:
            out.append(sentence)
        else:
            out.extend(" ".join(tokens[i:i + size]) for i in range(0, len(tokens) - size + stride, stride))
    return out or ([text] if text.strip() else [])


def _semantic_best(examples: list[str], group, ctx: "CallContext", lang: str, reject_negated: bool = False):
    """(utterance, cosine, example) of the closest in-scope sentence to any example."""
    from qa.embeddings import cosine_matrix

    pieces = [(u, c) for u in group for c in chunks(u.text)]
    if not pieces or not examples:
        return None
    enc = ctx.encoder()
    sims = cosine_matrix(enc.encode([c for _, c in pieces]), enc.encode(examples))
    best = None
    for i, (u, piece) in enumerate(pieces):
        for j, example in enumerate(examples):
            sim = float(sims[i, j])
            if best is not None and sim <= best[1]:
                continue
            if reject_negated and negated(example, piece, (0, len(piece.split())), lang):
                continue
            best = (u, sim, example)
    return best


def _semantic(check: SemanticCheck, rubric: "Rubric", utterances, ctx: "CallContext") -> Outcome:
    lang = rubric.language

    def judge(group, where) -> Outcome:
        if check.none:
            hit = _semantic_best(_expand(rubric, check.none, ctx.variables), group, ctx, lang, reject_negated=True)
            if hit and hit[1] >= check.threshold:
                return Outcome("fail", f"said something that means {hit[2]!r} (semantic {hit[1]:.2f})", "semantic",
                               hit[0], round(100 * hit[1], 1))
        if not check.any:
            return Outcome("pass", "nothing forbidden said", "semantic")
        hit = _semantic_best(_expand(rubric, check.any, ctx.variables), group, ctx, lang)
        if hit and hit[1] >= check.threshold:
            return Outcome("pass", f"means the same as {hit[2]!r} (semantic {hit[1]:.2f})", "semantic",
                           hit[0], round(100 * hit[1], 1))
        closest = f" (closest {hit[1]:.2f} < {check.threshold:g})" if hit else ""
        return Outcome("fail", f"no sentence by {where} close to the examples{closest}", "semantic")

    return _per_scope(check, utterances, ctx, judge)


# ---- metrics and sentiment ----------------------------------------------------------------

def _bounds_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


def _within(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _metric(check: MetricCheck, rubric: "Rubric", utterances, ctx: "CallContext") -> Outcome:
    value = ctx.facts.get(check.metric)
    if value is None:
        known = "" if check.metric in ctx.facts else " (unknown metric name)" if ctx.facts else ""
        return Outcome("na", f"not applicable: {check.metric} is not available for this call{known}", "metric")
    value = float(value)
    want = _bounds_text(check.min, check.max)
    at = ctx.evidence_times.get(check.metric)
    if _within(value, check.min, check.max):
        return Outcome("pass", f"{check.metric} = {value:g}, {want}", "metric", value=value)
    return Outcome("fail", f"{check.metric} = {value:g}, should be {want}", "metric", value=value, at=at)


def _sentiment(check: SentimentCheck, rubric: "Rubric", utterances, ctx: "CallContext") -> Outcome:
    if check.measure == "trajectory":
        traj = (ctx.sentiment or {}).get("customer_trajectory")
        if traj is None:
            return Outcome("na", "not applicable: no customer sentiment trajectory for this call", "sentiment")
        ok = traj in check.allowed
        return Outcome("pass" if ok else "fail",
                       f"customer sentiment {traj}" + ("" if ok else f", expected {' or '.join(check.allowed)}"),
                       "sentiment")

    def judge(group, where) -> Outcome:
        rated = [u for u in group if getattr(u, "sentiment_label", None) is not None]
        if not rated:
            return Outcome("na", f"not applicable: no sentiment for {where}", "sentiment")
        if check.measure == "mean_polarity":
            value = sum(u.sentiment_polarity for u in rated) / len(rated)
        else:
            label = "negative" if check.measure == "negative_share" else "positive"
            value = sum(u.sentiment_label == label for u in rated) / len(rated)
        want = _bounds_text(check.min, check.max)
        key = (lambda u: u.sentiment_polarity) if check.measure != "positive_share" else (lambda u: -u.sentiment_polarity)
        worst = min(rated, key=key)
        if _within(value, check.min, check.max):
            return Outcome("pass", f"{check.measure} of {where} = {value:.2f}, {want}", "sentiment", value=value)
        return Outcome("fail", f"{check.measure} of {where} = {value:.2f}, should be {want}", "sentiment",
                       worst, value=value)

    out = _per_scope(check, utterances, ctx, judge)
    return out


# ---- combinators ---------------------------------------------------------------------------

def _all_of(check: AllOf, rubric, utterances, ctx) -> Outcome:
    outs = [evaluate(c, rubric, utterances, ctx) for c in check.checks]
    applicable = [o for o in outs if o.status != "na"]
    if not applicable:
        return Outcome("na", "; ".join(o.reason for o in outs), "all_of")
    failed = [o for o in applicable if o.status == "fail"]
    if failed:
        first = failed[0]
        return Outcome("fail", first.reason, f"all_of/{first.method}", first.utterance, first.similarity, first.at, first.value)
    with_u = [o for o in applicable if o.utterance is not None] or applicable
    top = with_u[0]
    return Outcome("pass", "; ".join(o.reason for o in applicable), f"all_of/{top.method}", top.utterance,
                   top.similarity, top.at, top.value)


def _any_of(check: AnyOf, rubric, utterances, ctx) -> Outcome:
    outs = [evaluate(c, rubric, utterances, ctx) for c in check.checks]
    for o in outs:
        if o.status == "pass":
            return Outcome("pass", o.reason, f"any_of/{o.method}", o.utterance, o.similarity, o.at, o.value)
    applicable = [o for o in outs if o.status != "na"]
    if not applicable:
        return Outcome("na", "; ".join(o.reason for o in outs), "any_of")
    return Outcome("fail", " and ".join(o.reason for o in applicable), "any_of")


# ---- what a batch can compute ahead --------------------------------------------------------

@dataclass
class Requests:
    """What scoring a call may ask of the matcher and the encoder, collected before scoring a batch."""

    blocks: dict[float, list[tuple[list[str], list[str]]]] = field(default_factory=dict)  # floor -> (phrases, texts)
    pieces: list[str] = field(default_factory=list)  # sentence pieces to embed


def collect_requests(check, rubric: "Rubric", utterances, ctx: "CallContext", out: Requests) -> None:
    """Add every (phrase, utterance text) pair and sentence piece `evaluate(check, ...)` may need.

    A superset: the same scope groups and expanded phrases `_phrases` / `_semantic` use,
    whatever each decides. Anything missed is computed on demand, so this only saves time.
    """
    if check.type in ("all_of", "any_of"):
        for sub in check.checks:
            collect_requests(sub, rubric, utterances, ctx, out)
        return
    if check.type not in ("phrases", "semantic"):
        return
    groups = scopes(utterances, check.speaker, check.window, ctx) or []
    texts = list(dict.fromkeys(u.text for _, group in groups for u in group))
    if check.type == "semantic" or getattr(check, "semantic", None) is not None:
        out.pieces.extend(c for t in texts for c in chunks(t))
        out.pieces.extend(_expand(rubric, check.any, ctx.variables) + _expand(rubric, check.none, ctx.variables))
    if check.type == "phrases":
        phrases = _expand(rubric, check.none + check.all + check.any, ctx.variables)
        out.blocks.setdefault(check.threshold - 1.0, []).append((phrases, texts))


_RUNNERS = {
    "phrases": _phrases, "regex": _regex, "fuzzy": _fuzzy, "semantic": _semantic,
    "metric": _metric, "sentiment": _sentiment, "all_of": _all_of, "any_of": _any_of,
}


def evaluate(check, rubric: "Rubric", utterances, ctx: "CallContext") -> Outcome:
    return _RUNNERS[check.type](check, rubric, utterances, ctx)
