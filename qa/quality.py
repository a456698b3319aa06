"""Is this call fit to score? Audio-quality flags, and the reasons a call is stored unscored.

`measure` reads the decoded audio once, span by span (flat memory on long calls), per channel:
the share of clipped samples, the speech level (95th percentile of the 20 ms frame RMS over the
frames above -60 dBFS, so a party that speaks little still has one), the noise floor (10th
percentile of all frames) and their difference as an SNR estimate. `flags` turns them into
the words a reviewer sees: "clipping", "low level", "low SNR".

`unscored_reason` says why scoring would mislead: nobody speaks (silence, noise: whisper hears no
word), or the agent's channel of a stereo call is silent. Such a call is stored with its transcript
and status `unscored` (reason in `calls.error`, stage `quality`), and every aggregate (agent
averages, pass rates, coaching lists) counts only `ok` calls, so it stays out of them.

`bounded_score` runs the rubric with a time bound on its regexes (`qa.rubric.regex_safety`); a
failure of scoring (a timeout, a bug) stores the call unscored with the reason (stage `scoring`)
instead of losing the transcript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

FRAME_S = 0.02
CLIP_LEVEL = 0.98  # |sample| at or above this counts as clipped (resampling ripples a flat top)
CLIP_SHARE = 0.001  # more than 0.1 % of samples clipped: "clipping"
LOW_LEVEL_DBFS = -35.0  # speech level below this: "low level"
LOW_SNR_DB = 15.0  # level minus noise floor below this: "low SNR"
SILENT_DBFS = -60.0  # a channel whose speech level is below this is silent
MIN_AGENT_WORDS = 3


@dataclass
class ChannelQuality:
    clipped_share: float
    level_dbfs: float
    floor_dbfs: float
    snr_db: float

    @property
    def silent(self) -> bool:
        return self.level_dbfs < SILENT_DBFS


def _db(x: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.maximum(x, 1e-6))


def measure(audio: Any) -> list[ChannelQuality]:
    """Per-channel clipping, level, floor and SNR of a decoded `qa.audio.Audio`."""
    frame = max(1, int(FRAME_S * audio.sample_rate))
    rms: list[list[np.ndarray]] = [[] for _ in range(audio.n_channels)]
    clipped = np.zeros(audio.n_channels)
    for a, b in audio.spans():
        x = audio.read(a, b)
        clipped += (np.abs(x) >= CLIP_LEVEL).sum(axis=1)
        n = x.shape[1] // frame * frame
        if n:
            frames = x[:, :n].reshape(x.shape[0], -1, frame).astype(np.float64)
            for ch in range(x.shape[0]):
                rms[ch].append(np.sqrt((frames[ch] ** 2).mean(axis=1)))
    out = []
    for ch in range(audio.n_channels):
        r = _db(np.concatenate(rms[ch]) if rms[ch] else np.zeros(1))
        active = r[r > SILENT_DBFS]  # a party that speaks 5 % of the call still has a speech level
        level = float(np.percentile(active, 95)) if active.size else float(r.max())
        floor = float(np.percentile(r, 10))
        out.append(ChannelQuality(round(float(clipped[ch]) / max(1, audio.n_samples), 5), round(level, 1),
                                  round(floor, 1), round(level - floor, 1)))
    return out


def flags(channels: list[ChannelQuality]) -> list[str]:
    """"clipping", "low level", "low SNR" over the channels that carry sound."""
    heard = [c for c in channels if not c.silent]
    out = []
    if any(c.clipped_share > CLIP_SHARE for c in heard):
        out.append("clipping")
    if any(c.level_dbfs < LOW_LEVEL_DBFS for c in heard):
        out.append("low level")
    if any(c.snr_db < LOW_SNR_DB for c in heard):
        out.append("low SNR")
    return out


def summary(channels: list[ChannelQuality]) -> dict[str, Any]:
    """The JSON stored per call (`calls.stats_json` -> `audio_quality`)."""
    return {"flags": flags(channels), "channels": [c.__dict__ for c in channels]}


def unscored_reason(channels: list[ChannelQuality], utterances: list[Any], agent_speaker: str | None) -> str | None:
    """Why the call must not be scored, or None."""
    words = sum(len(u.words) or len(u.text.split()) for u in utterances)
    if words == 0:
        if all(c.silent for c in channels):
            return "no speech: the recording is silent"
        return "no speech: no word was heard (noise or unintelligible audio)"
    if len(channels) == 2 and agent_speaker in ("ch0", "ch1"):
        agent_words = sum(len(u.words) or len(u.text.split()) for u in utterances if u.speaker == agent_speaker)
        if agent_words < MIN_AGENT_WORDS and (channels[int(agent_speaker[2])].silent or agent_words == 0):
            return f"agent channel silent (channel {agent_speaker[2]}): only the customer can be heard"
    return None


def bounded_score(score: Callable[[], tuple[list, Any]]) -> tuple[list, Any, str | None]:
    """(items, call score, None), or ([], None, reason) when scoring fails or runs past its bound."""
    from qa.rubric.regex_safety import RegexTimeout, scoring_deadline

    try:
        with scoring_deadline():
            items, result = score()
        return items, result, None
    except RegexTimeout as exc:
        return [], None, f"scoring stopped: {exc}"
    except Exception as exc:  # a scoring bug must not lose the transcript
        return [], None, f"scoring failed: {type(exc).__name__}: {exc}"
