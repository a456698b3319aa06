"""Hold detection: long stretches without speech that the agent announced, or that are long mid-call.

A stretch is "busy" while someone says words: the union of ASR word times and of the speech
turns that contain a word. Hold music is either silence to VAD or, in many systems, VAD
"speech" on the agent channel in which ASR finds no words; both are not busy. A gap in the
busy timeline of at least `min_gap_s` is a hold candidate. It is a hold when

* the agent announced it just before (one of the last `lookback_utterances` agent utterances
  ending within `announce_window_s` of the gap): "sizi kısa bir süre bekleteceğim",
  "hattan ayrılmayın", "bekleyin", "may I put you on hold", "hang on", "I'll be right back"...
  `asked_permission` is True only for a request ("beklemeye alabilir miyim", "may I put you on
  hold"), not for an order ("bekleyin", "hang on"); or
* it lasts at least `long_gap_s` (an unannounced hold).

`thanked_after` looks at the first `lookahead_utterances` agent utterances starting within
`thank_window_s` after the gap ("beklediğiniz için teşekkürler", "thank you for holding").
Phrases are matched with the repository's Turkish-aware fuzzy matcher (`qa.rubric.matching`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.metrics import Interval, merge_intervals
from qa.rubric.matching import best_match

PERMISSION = {
    "tr": [
        "sizi kısa bir süre beklemeye alabilir miyim",
        "beklemeye alabilir miyim",
        "sizi bekletebilir miyim",
        "bir dakika bekler misiniz",
        "kısa bir süre bekler misiniz",
        "hatta bekleyebilir misiniz",
        "sizi beklemeye almamda sakınca var mı",
        "müsaadenizle sizi beklemeye alıyorum",
        "izninizle sizi kısa bir süre bekleteceğim",
    ],
    "en": [
        "may i put you on hold",
        "can i put you on hold",
        "could i put you on hold",
        "do you mind if i put you on hold",
        "would you mind holding",
        "can you hold for a moment",
        "could you hold for a minute",
        "is it okay if i place you on hold",
    ],
}
ANNOUNCE = {
    "tr": [
        "hattan ayrılmayın",
        "sizi kısa bir süre bekleteceğim",
        "sizi beklemeye alıyorum",
        "bekleyin",
        "bir dakika bekleyin",
        "hemen dönüyorum",
        "hemen size dönüyorum",
        "kontrol edip dönüyorum",
        "lütfen hatta kalın",
    ],
    "en": [
        "please hold",
        "hold on",
        "hang on",
        "i'll be right back",
        "i will be right back",
        "bear with me",
        "one moment please",
        "just a moment",
        "let me put you on hold",
        "i'm putting you on hold",
        "stay on the line",
    ],
}
THANKS = {
    "tr": [
        "beklediğiniz için teşekkür ederim",
        "beklediğiniz için teşekkürler",
        "beklettiğim için kusura bakmayın",
        "beklettiğim için özür dilerim",
        "sabrınız için teşekkürler",
        "hatta kaldığınız için teşekkürler",
    ],
    "en": [
        "thank you for holding",
        "thanks for holding",
        "thank you for waiting",
        "thanks for waiting",
        "thank you for your patience",
        "sorry for the wait",
        "sorry to keep you waiting",
    ],
}
MATCH_THRESHOLD = 84.0


@dataclass
class Hold:
    start_s: float
    end_s: float
    asked_permission: bool
    thanked_after: bool
    announced: bool  # permission asked or hold announced ("bekleyin", "hang on")
    kind: str  # "silence" | "wordless" (VAD heard sound but ASR found no words: music, tones)
    ask_evidence: dict[str, Any] | None = None
    thank_evidence: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _evidence(match, by_idx: dict[int, Any]) -> dict[str, Any]:
    u = by_idx[match.utterance_idx]
    return {"idx": u.idx, "text": u.text, "start": u.start, "end": u.end, "phrase": match.phrase,
            "similarity": match.similarity}


def busy_intervals(activity: Iterable[tuple[str, str, float, float]], utterances: Sequence[Any]) -> list[Interval]:
    """Times when someone is saying words: word spans plus the speech turns that hold a word."""
    spans: list[Interval] = []
    mids: list[float] = []
    for u in utterances:
        if u.words:
            for w in u.words:
                spans.append((w.start, w.end))
                mids.append((w.start + w.end) / 2)
        else:
            spans.append((u.start, u.end))
            mids.append((u.start + u.end) / 2)
    mids.sort()
    for _spk, _role, s, e in activity:
        i = bisect.bisect_left(mids, s)
        if i < len(mids) and mids[i] <= e:
            spans.append((s, e))
    return merge_intervals(spans)


def _wordless_share(gap: Interval, activity: Iterable[tuple[str, str, float, float]]) -> float:
    covered = merge_intervals((max(s, gap[0]), min(e, gap[1])) for _k, _r, s, e in activity)
    return sum(e - s for s, e in covered) / max(gap[1] - gap[0], 1e-9)


def _phrases(table: dict[str, list[str]], language: str) -> list[str]:
    return table.get(language, table["en"])


def detect_holds(
    activity: Iterable[tuple[str, str, float, float]],
    utterances: Sequence[Any],
    duration_s: float,
    language: str,
    min_gap_s: float = 5.0,
    long_gap_s: float = 20.0,
    announce_window_s: float = 30.0,
    lookback_utterances: int = 3,
    thank_window_s: float = 20.0,
    lookahead_utterances: int = 2,
    threshold: float = MATCH_THRESHOLD,
) -> list[Hold]:
    """Holds of one call, in time order (definitions in the module docstring)."""
    activity = list(activity)
    busy = busy_intervals(activity, utterances)
    by_idx = {u.idx: u for u in utterances}
    agent = sorted((u for u in utterances if u.role == "agent"), key=lambda u: u.start)
    holds: list[Hold] = []
    prev_end = 0.0
    for (_, gs), (ge, _) in zip(busy, busy[1:]):
        if ge - gs < min_gap_s or gs >= duration_s:
            continue
        before = [u for u in agent if prev_end <= u.end <= gs + 0.5 and u.end >= gs - announce_window_s]
        before = before[-lookback_utterances:]
        after = [u for u in agent if ge - 0.5 <= u.start <= ge + thank_window_s][:lookahead_utterances]
        ask = best_match(_phrases(PERMISSION, language), before, language, threshold, reject_negated=True)
        told = ask or best_match(_phrases(ANNOUNCE, language), before, language, threshold, reject_negated=True)
        if not told and ge - gs < long_gap_s:
            continue
        thanks = best_match(_phrases(THANKS, language), after, language, threshold)
        reasons = [f"{ge - gs:.1f} s without words"]
        if told:
            reasons.append("agent asked permission" if ask else "agent announced the hold without asking")
        else:
            reasons.append(f"unannounced, longer than {long_gap_s:.0f} s")
        reasons.append("agent thanked the customer after it" if thanks else "no thanks after it")
        holds.append(Hold(
            start_s=round(gs, 3),
            end_s=round(ge, 3),
            asked_permission=ask is not None,
            thanked_after=thanks is not None,
            announced=told is not None,
            kind="wordless" if _wordless_share((gs, ge), activity) >= 0.5 else "silence",
            ask_evidence=_evidence(told, by_idx) if told else None,
            thank_evidence=_evidence(thanks, by_idx) if thanks else None,
            reasons=reasons,
        ))
        prev_end = ge
    return holds


def match_holds(
    predicted: Sequence[Interval], reference: Sequence[Interval], min_overlap: float = 0.5
) -> dict[str, int]:
    """Found / missed / false holds: a reference hold is found when a predicted one covers at
    least `min_overlap` of it (each predicted hold used once)."""
    used: set[int] = set()
    found = 0
    for rs, re_ in reference:
        for i, (ps, pe) in enumerate(predicted):
            if i not in used and min(pe, re_) - max(ps, rs) >= min_overlap * (re_ - rs):
                used.add(i)
                found += 1
                break
    return {"found": found, "missed": len(reference) - found, "false": len(predicted) - len(used)}
