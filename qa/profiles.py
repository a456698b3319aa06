"""Customer profiles: tag a call with the profiles its evidence supports, with the handling strategy.

Profiles (new, hasty, talkative, angry, negative, insistent, confused, sceptical, know-it-all,
positive, loyal, poor-communicator), their cue phrases and strategies live in
`profiles_data/profiles.yaml`. Evidence per profile:

* phrases and regular expressions in the customer's utterances (the poor communicator's come
  from the agent: "sizi duyamıyorum", "could you speak up"), matched with the repository's
  Turkish-aware fuzzy matcher; each matching utterance adds the profile's `phrase_weight`;
* metrics (`qa.metrics` names): customer vs agent speaking rate, customer talk share and
  longest monologue, interruptions by the customer;
* sentiment per utterance when given (any objects with `.label` and `.polarity`).

Pieces of evidence combine as independent ones, confidence = 1 - prod(1 - w); a profile is
tagged at `min_confidence` or more. Reasons are readable strings naming the cue, never the
customer's words; evidence entries carry the (already redacted) utterance text and times.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from qa.rubric.matching import best_match
from qa.rubric.matching import negated
from qa.text import fold

DATA = Path(__file__).resolve().parent / "profiles_data" / "profiles.yaml"
PHRASE_THRESHOLD = 86.0
MAX_PHRASE_EVIDENCE = 3  # utterances counted per profile

# metric cue thresholds (general contact-centre rules of thumb, not fitted to the samples)
FAST_RATE_RATIO = 1.2  # customer words/min over the agent's
SLOW_RATE_RATIO = 0.8
TALK_SHARE = 0.55  # customer share of the talk time (agents usually talk 55-70 %)
LONG_MONOLOGUE_S = 30.0
LONG_UTTERANCE_WORDS = 60


@dataclass(frozen=True)
class Profile:
    id: str
    names: dict[str, str]
    phrases: dict[str, list[str]]
    patterns: dict[str, list[str]]
    agent_phrases: dict[str, list[str]]
    repeated_patterns: dict[str, list[str]]
    phrase_weight: float
    strategy: dict[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]

    def strategy_for(self, language: str) -> str:
        return (self.strategy.get(language) or self.strategy["en"]).strip()


@dataclass
class ProfileTag:
    profile: str
    confidence: float
    reasons: list[str]
    evidence: list[dict[str, Any]]
    strategy: str
    name: str = ""


@lru_cache(maxsize=4)
def load_profiles(path: Path = DATA) -> dict[str, Profile]:
    """The profile catalogue, by id."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = {}
    for p in data["profiles"]:
        out[p["id"]] = Profile(
            id=p["id"],
            names=p["name"],
            phrases=p.get("phrases") or {},
            patterns=p.get("patterns") or {},
            agent_phrases=p.get("agent_phrases") or {},
            repeated_patterns=p.get("repeated_patterns") or {},
            phrase_weight=float(p.get("phrase_weight", 0.4)),
            strategy=p["strategy"],
        )
    return out


class _Cues:
    def __init__(self) -> None:
        self.items: dict[str, list[tuple[float, str, dict[str, Any]]]] = {}

    def add(self, profile: str, weight: float, reason: str, evidence: dict[str, Any]) -> None:
        self.items.setdefault(profile, []).append((weight, reason, evidence))

    def confidence(self, profile: str) -> float:
        miss = 1.0
        for w, _, _ in self.items.get(profile, []):
            miss *= 1.0 - w
        return 1.0 - miss


def _utt_evidence(u, **extra) -> dict[str, Any]:
    return {"kind": "utterance", "idx": u.idx, "text": u.text, "start": u.start, "end": u.end, **extra}


def _lang_list(table: Mapping[str, list[str]], language: str) -> list[str]:
    return list(table.get(language) or table.get("en") or [])


def _phrase_cues(cues: _Cues, profile: Profile, utterances: Sequence[Any], language: str, threshold: float) -> None:
    phrases = _lang_list(profile.phrases, language)
    patterns = [re.compile(p) for p in _lang_list(profile.patterns, language)]
    hits = 0
    for u in utterances:
        if hits >= MAX_PHRASE_EVIDENCE:
            break
        m = best_match(phrases, [u], language, threshold, reject_negated=True) if phrases else None
        if m is not None:
            cues.add(profile.id, profile.phrase_weight, f'customer said something like "{m.phrase}"',
                     _utt_evidence(u, phrase=m.phrase, similarity=m.similarity))
            hits += 1
            continue
        folded = fold(u.text, language)
        for rx in patterns:
            found = rx.search(folded)
            span = (len(folded[: found.start()].split()), len(folded[: found.end()].split())) if found else (0, 0)
            if found and not negated(found.group(0), u.text, span, language):
                cues.add(profile.id, profile.phrase_weight, f"customer wording matches the {profile.id} pattern /{rx.pattern}/",
                         _utt_evidence(u, pattern=rx.pattern))
                hits += 1
                break


def _repeat_cue(cues: _Cues, profile: Profile, utterances: Sequence[Any], language: str) -> None:
    patterns = [re.compile(p) for p in _lang_list(profile.repeated_patterns, language)]
    if not patterns:
        return
    hit = [u for u in utterances if any(rx.search(fold(u.text, language)) for rx in patterns)]
    if len(hit) >= 2:
        cues.add(profile.id, 0.35, f"the customer repeated a demand in {len(hit)} utterances",
                 {"kind": "repetition", "utterances": [u.idx for u in hit]})


def _agent_phrase_cues(cues: _Cues, profile: Profile, agent: Sequence[Any], language: str, threshold: float) -> None:
    phrases = _lang_list(profile.agent_phrases, language)
    if not phrases:
        return
    hits = 0
    for u in agent:
        m = best_match(phrases, [u], language, threshold, reject_negated=True)
        if m is not None and hits < MAX_PHRASE_EVIDENCE:
            cues.add(profile.id, profile.phrase_weight, f'the agent said something like "{m.phrase}"',
                     _utt_evidence(u, phrase=m.phrase, similarity=m.similarity))
            hits += 1


def _metric_cues(cues: _Cues, metrics: Mapping[str, float | None], customer: Sequence[Any]) -> None:
    def ev(name: str, value: float, threshold: float) -> dict[str, Any]:
        return {"kind": "metric", "name": name, "value": round(float(value), 3), "threshold": threshold}

    c_wpm, a_wpm = metrics.get("customer_wpm"), metrics.get("agent_wpm")
    if c_wpm and a_wpm:
        ratio = c_wpm / a_wpm
        if ratio >= FAST_RATE_RATIO:
            cues.add("hasty", 0.3, f"the customer speaks {ratio:.0%} of the agent's rate", ev("wpm_ratio", ratio, FAST_RATE_RATIO))
        elif ratio <= SLOW_RATE_RATIO:
            cues.add("confused", 0.2, f"the customer speaks slowly ({ratio:.0%} of the agent's rate)",
                     ev("wpm_ratio", ratio, SLOW_RATE_RATIO))
    share = metrics.get("talk_ratio_customer")
    if share is not None and share >= TALK_SHARE:
        cues.add("talkative", 0.45, f"the customer has {share:.0%} of the talk time", ev("talk_ratio_customer", share, TALK_SHARE))
    mono = metrics.get("longest_monologue_customer_s")
    if mono is not None and mono >= LONG_MONOLOGUE_S:
        cues.add("talkative", 0.35, f"the customer spoke {mono:.0f} s without a break",
                 ev("longest_monologue_customer_s", mono, LONG_MONOLOGUE_S))
    longest = max(customer, key=lambda u: len(u.text.split()), default=None)
    if longest is not None and len(longest.text.split()) >= LONG_UTTERANCE_WORDS:
        cues.add("talkative", 0.3, f"one customer turn has {len(longest.text.split())} words",
                 _utt_evidence(longest, words=len(longest.text.split())))
    cut_ins = metrics.get("interruptions_by_customer") or 0
    if cut_ins >= 1:
        cues.add("angry", 0.2, f"the customer interrupted the agent {int(cut_ins)} time(s)", ev("interruptions_by_customer", cut_ins, 1))
        cues.add("insistent", 0.15 if cut_ins < 2 else 0.3, f"the customer interrupted the agent {int(cut_ins)} time(s)",
                 ev("interruptions_by_customer", cut_ins, 1))


def _sentiment_cues(cues: _Cues, pairs: Sequence[tuple[Any, Any]]) -> None:
    labelled = [(u, s) for u, s in pairs if s is not None and getattr(s, "label", None)]
    if not labelled:
        return
    n = len(labelled)
    neg = [u for u, s in labelled if s.label == "negative"]
    pos = [u for u, s in labelled if s.label == "positive"]
    pol = [float(s.polarity) for _, s in labelled if getattr(s, "polarity", None) is not None]
    mean = sum(pol) / len(pol) if pol else 0.0
    info = {"kind": "sentiment", "customer_utterances": n, "negative": len(neg), "positive": len(pos),
            "mean_polarity": round(mean, 3)}
    if len(neg) >= 2 and len(neg) / n >= 0.3:
        cues.add("negative", 0.55, f"{len(neg)} of {n} customer utterances are negative", info)
    if pol and mean <= -0.3:
        cues.add("negative", 0.3, f"mean customer polarity {mean:+.2f}", info)
    if len(neg) >= 3 and len(neg) / n >= 0.5:
        cues.add("angry", 0.3, f"most customer utterances are negative ({len(neg)} of {n})", info)
    if pol and min(pol) <= -0.7:
        cues.add("angry", 0.25, f"a strongly negative customer utterance (polarity {min(pol):+.2f})", info)
    if labelled[-1][1].label == "positive":
        cues.add("positive", 0.3, "the customer ends positive", _utt_evidence(labelled[-1][0]))
    if len(pos) >= 2 and len(pos) >= len(neg):
        cues.add("positive", 0.3, f"{len(pos)} positive vs {len(neg)} negative customer utterances", info)


def tag_profiles(
    metrics: Mapping[str, float | None],
    utterances: Sequence[Any],
    language: str,
    sentiments: Sequence[Any] | None = None,
    min_confidence: float = 0.5,
    threshold: float = PHRASE_THRESHOLD,
) -> list[ProfileTag]:
    """Profiles the call's evidence supports, most confident first."""
    catalogue = load_profiles()
    customer = [u for u in utterances if u.role == "customer"]
    agent = [u for u in utterances if u.role == "agent"]
    cues = _Cues()
    for profile in catalogue.values():
        _phrase_cues(cues, profile, customer, language, threshold)
        _repeat_cue(cues, profile, customer, language)
        _agent_phrase_cues(cues, profile, agent, language, threshold)
    _metric_cues(cues, metrics, customer)
    if sentiments is not None:
        _sentiment_cues(cues, [(u, s) for u, s in zip(utterances, sentiments) if u.role == "customer"])
    tags = []
    for pid, items in cues.items.items():
        conf = cues.confidence(pid)
        if conf < min_confidence or pid not in catalogue:
            continue
        profile = catalogue[pid]
        tags.append(ProfileTag(
            profile=pid,
            confidence=round(conf, 3),
            reasons=[r for _, r, _ in items],
            evidence=[e for _, _, e in items],
            strategy=profile.strategy_for(language),
            name=profile.name(language),
        ))
    return sorted(tags, key=lambda t: -t.confidence)


def evaluate_profiles(predicted: Mapping[str, list[str]], reference: Mapping[str, list[str]]) -> dict[str, Any]:
    """Per-profile and micro precision/recall/F1 over the calls present in `reference`
    (a call missing from `predicted` counts as tagged with nothing)."""
    per: dict[str, dict[str, int]] = {}
    for call_id, ref in reference.items():
        pred, gold = set(predicted.get(call_id, [])), set(ref)
        for pid in pred | gold:
            s = per.setdefault(pid, {"tp": 0, "fp": 0, "fn": 0})
            s["tp"] += pid in pred and pid in gold
            s["fp"] += pid in pred and pid not in gold
            s["fn"] += pid in gold and pid not in pred

    def prf(s: dict[str, int]) -> dict[str, Any]:
        p = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else None
        r = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else None
        f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
        return {**s, "precision": _r(p), "recall": _r(r), "f1": _r(f)}

    total = {k: sum(s[k] for s in per.values()) for k in ("tp", "fp", "fn")}
    return {"calls": len(reference), "per_profile": {k: prf(v) for k, v in sorted(per.items())}, "micro": prf(total)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
