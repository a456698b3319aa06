"""Words + speaker turns + roles -> utterances (speaker role, start, end, text)."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.asr import Word
from qa.diarization import Diarization

MAX_GAP_S = 1.2  # a pause longer than this starts a new utterance of the same speaker
NEAR_TURN_S = 2.0  # a word outside every turn takes the nearest turn's speaker within this distance


@dataclass
class Utterance:
    idx: int
    speaker: str
    role: str  # agent | customer | unknown
    start: float
    end: float
    text: str
    confidence: float
    words: list[Word] = field(default_factory=list, repr=False)
    sentiment_label: str | None = None  # negative | neutral | positive (None: not analysed)
    sentiment_score: float | None = None  # confidence of the label
    sentiment_polarity: float | None = None  # P(positive) - P(negative), -1..1


def label_words(words: list[Word], diarization: Diarization) -> list[tuple[Word, str | None]]:
    """Attach a speaker to each word: its channel for stereo, the overlapping turn for mono.

    A mono word that falls in a gap between turns (whisper's word times and the turns' edges
    disagree by a few hundred ms) takes the speaker of the nearer labelled word beside it when that
    word is within `MAX_GAP_S` (it continues that speech, so it never splits a sentence), else that
    of the nearest turn within `NEAR_TURN_S`; it stays unlabelled only when nothing is near.
    """
    ordered = sorted(range(len(words)), key=lambda i: (words[i].start, words[i].end))
    speakers: list[str | None] = [None] * len(words)
    for i, w in enumerate(words):
        if w.channel is not None:
            speakers[i] = f"ch{w.channel}"
        else:
            speakers[i] = diarization.speaker_at(w.start, w.end)
    for pos, i in enumerate(ordered):
        if speakers[i] is not None:
            continue
        w = words[i]
        before = next((j for j in reversed(ordered[:pos]) if speakers[j] is not None), None)
        after = next((j for j in ordered[pos + 1:] if speakers[j] is not None), None)
        gap_before = w.start - words[before].end if before is not None else float("inf")
        gap_after = words[after].start - w.end if after is not None else float("inf")
        if min(gap_before, gap_after) <= MAX_GAP_S:  # the word continues (or leads into) that speech
            speakers[i] = speakers[before] if gap_before <= gap_after else speakers[after]
        else:
            speakers[i] = diarization.speaker_at(w.start, w.end, tolerance=NEAR_TURN_S)
    return [(w, spk) for w, spk in zip(words, speakers)]


def drop_echo(words: list[Word], diarization: Diarization, tolerance: float = 0.6) -> tuple[list[Word], int]:
    """Stereo: drop words heard on a channel while that channel was not active (the other side's echo)."""
    kept = []
    for w in words:
        spk = f"ch{w.channel}"
        if any(t.speaker == spk and t.start - tolerance <= w.mid <= t.end + tolerance for t in diarization.turns):
            kept.append(w)
    return kept, len(words) - len(kept)


def _runs(ordered: list[tuple[Word, str | None]], per_speaker: bool) -> list[tuple[str | None, list[Word]]]:
    """Runs of one speaker's words. Stereo (`per_speaker`): each channel on its own, so a
    back-channel "evet" over the agent's sentence does not cut it; mono: in time order."""
    runs: list[tuple[str | None, list[Word]]] = []
    open_run: dict[str | None, list[Word]] = {}
    last: tuple[str | None, list[Word]] | None = None
    for word, spk in ordered:
        if per_speaker:
            cur = open_run.get(spk)
            if cur is None or word.start - cur[-1].end > MAX_GAP_S:
                cur = []
                open_run[spk] = cur
                runs.append((spk, cur))
            cur.append(word)
        else:
            if last is None or spk != last[0] or word.start - last[1][-1].end > MAX_GAP_S:
                last = (spk, [])
                runs.append(last)
            last[1].append(word)
    return runs


def build_utterances(labelled: list[tuple[Word, str | None]], roles: dict[str, str]) -> list[Utterance]:
    """Group each speaker's consecutive words into utterances, ordered by start time."""
    ordered = sorted(labelled, key=lambda p: (p[0].start, p[0].end))
    per_speaker = any(w.channel is not None for w, _ in ordered)
    runs = sorted(_runs(ordered, per_speaker), key=lambda r: r[1][0].start)
    utterances: list[Utterance] = []
    for spk, words in runs:
        label = spk or "unknown"
        utterances.append(
            Utterance(
                idx=len(utterances),
                speaker=label,
                role=roles.get(label, "unknown"),
                start=round(words[0].start, 3),
                end=round(max(w.end for w in words), 3),
                text=" ".join(w.text for w in words),
                confidence=round(sum(w.probability for w in words) / len(words), 3),
                words=list(words),
            )
        )
    return utterances
