"""Cheap acoustic cues of one speaker's voice, for rubric items like "speaks calmly".

From the samples of one role's speech (stereo: its channel; mono: the mix over its turns):

* level: frame RMS in dBFS over the speaker's active frames (frames within `active_db` of the
  speaker's loud frames, so pauses inside a turn do not count): median and spread (std, dB).
  Absolute levels depend on the recording chain; compare speakers within one system.
* raised voice: share of active frames more than `raised_db` above the speaker's own median.
* pitch: `librosa.yin` (pyin is ~40x slower) on voiced frames (active, low zero-crossing rate,
  f0 not pinned at the search bounds): median in Hz and spread in semitones (std and the
  10-90 % range). Telephone band-limiting removes the fundamental below 300 Hz, but YIN
  tracks periodicity from the harmonics.

At most `max_seconds` of speech are analysed. With less than `min_speech_s` of active speech
every cue is None. librosa is imported lazily (its first call costs seconds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FRAME = 0.032  # s
HOP = 0.010  # s
FMIN, FMAX = 65.0, 400.0


@dataclass
class AcousticCues:
    speech_s: float  # seconds of active speech analysed
    level_db_median: float | None
    level_db_std: float | None
    raised_share: float | None  # share of active frames > raised_db over the median level
    pitch_median_hz: float | None
    pitch_std_st: float | None  # semitones
    pitch_range_st: float | None  # 10-90 % range, semitones
    voiced_share: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if v is None else float(v)) for k, v in asdict(self).items()}


def _empty(speech_s: float) -> AcousticCues:
    return AcousticCues(round(speech_s, 2), None, None, None, None, None, None, None)


def _segments(samples: np.ndarray, sr: int, turns: list[tuple[float, float]], max_seconds: float) -> np.ndarray:
    parts, total = [], 0
    limit = int(max_seconds * sr)
    for start, end in sorted(turns):
        a, b = max(0, int(start * sr)), min(len(samples), int(end * sr))
        if b <= a:
            continue
        b = min(b, a + limit - total)
        parts.append(samples[a:b])
        total += b - a
        if total >= limit:
            break
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def acoustic_cues(
    samples: np.ndarray,
    sr: int,
    turns: list[tuple[float, float]],
    max_seconds: float = 300.0,
    min_speech_s: float = 5.0,
    active_db: float = 30.0,
    raised_db: float = 6.0,
) -> AcousticCues:
    """Level, raised-voice share and pitch cues of the speech in `turns` (seconds) of mono `samples`."""
    import librosa

    y = _segments(samples, sr, turns, max_seconds)
    frame, hop = int(FRAME * sr), int(HOP * sr)
    if len(y) < frame:
        return _empty(0.0)
    rms = librosa.feature.rms(y=y, frame_length=frame, hop_length=hop, center=True)[0]
    db = 20 * np.log10(rms + 1e-10)
    active = db > np.percentile(db, 95) - active_db
    speech_s = float(active.sum() * HOP)
    if speech_s < min_speech_s:
        return _empty(speech_s)
    level = db[active]
    median = float(np.median(level))

    f0 = librosa.yin(y, fmin=FMIN, fmax=FMAX, sr=sr, frame_length=2 * frame, hop_length=hop, center=True)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=frame, hop_length=hop, center=True)[0]
    n = min(len(f0), len(zcr), len(active))
    f0, zcr, act = f0[:n], zcr[:n], active[:n]
    voiced = act & (zcr < 0.15) & (f0 > FMIN * 1.05) & (f0 < FMAX * 0.95)
    pitch = f0[voiced]
    if len(pitch) * HOP < 1.0:
        p_med = p_std = p_rng = None
    else:
        p_med = float(np.median(pitch))
        st = 12 * np.log2(pitch / p_med)
        p_std = float(np.std(st))
        p_rng = float(np.percentile(st, 90) - np.percentile(st, 10))
    return AcousticCues(
        speech_s=round(speech_s, 2),
        level_db_median=round(median, 2),
        level_db_std=round(float(np.std(level)), 2),
        raised_share=round(float(np.mean(level > median + raised_db)), 4),
        pitch_median_hz=None if p_med is None else round(p_med, 1),
        pitch_std_st=None if p_std is None else round(p_std, 2),
        pitch_range_st=None if p_rng is None else round(p_rng, 2),
        voiced_share=round(float(voiced.sum() / max(act.sum(), 1)), 3),
    )


def role_cues(audio, activity: list[tuple[str, str, float, float]], role: str, **kwargs) -> AcousticCues:
    """Cues of one role in a `qa.audio.Audio`: its channel for stereo ("ch0"/"ch1" speakers), else the mix."""
    turns = [(s, e) for _spk, r, s, e in activity if r == role]
    speakers = {spk for spk, r, _s, _e in activity if r == role}
    samples = audio.mono()
    if audio.n_channels == 2 and len(speakers) == 1:
        spk = next(iter(speakers))
        if spk in ("ch0", "ch1"):
            samples = audio.channels[int(spk[2])]
    return acoustic_cues(samples, audio.sample_rate, turns, **kwargs)
