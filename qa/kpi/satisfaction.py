"""A satisfaction estimate (1-5) from the customer's sentiment, and its agreement with real survey scores.

This is an ESTIMATE, not a survey result. Method (`METHOD`, fixed before looking at any survey
data, not fitted): polarity p = P(positive) - P(negative) per utterance (`qa.sentiment`), -1..1.

  closing   = mean polarity of the customer's last two utterances (how the call ended for them)
  end       = mean polarity of the customer's last third of the call (`calls.sentiment_json`)
  mood      = (closing + end) / 2         (end alone when a call has no closing value, and vice versa)
  estimate  = 3 + 2 x mood + 0.5 x trajectory step (improved +1, worsened -1, steady 0), clipped to 1..5

so a neutral close reads 3, a clearly positive one (p ~0.8) about 4.6, a negative one about 1.4,
and a customer who came in angry and left content gets half a point for the turn. None without
any customer utterance that has a sentiment.

Where a real post-call survey score (`csat` in the sidecar, 1-5) exists, `agreement` reports the
mean absolute error, Spearman's rank correlation and the share within one point, with n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METHOD = ("estimate from the customer's sentiment: 3 + 2 x mean(closing polarity (last two customer utterances), "
          "last-third polarity) + 0.5 x trajectory (improved +1, worsened -1), clipped to 1-5")
TRAJECTORY_STEP = {"improved": 1.0, "worsened": -1.0, "steady": 0.0}


def estimate(closing, end, trajectory) -> pd.Series:
    """Estimates for aligned sequences of closing polarity, last-third polarity and trajectory (None = unknown)."""
    closing = pd.to_numeric(pd.Series(list(closing), dtype=object), errors="coerce").astype(float)
    end = pd.to_numeric(pd.Series(list(end), dtype=object), errors="coerce").astype(float)
    step = pd.Series([TRAJECTORY_STEP.get(t, 0.0) if isinstance(t, str) else 0.0 for t in trajectory], dtype=float)
    mood = pd.concat([closing, end], axis=1).mean(axis=1, skipna=True)  # NaN only when both are missing
    value = (3.0 + 2.0 * mood + 0.5 * step).clip(1.0, 5.0).round(2)
    return value.where(mood.notna(), None)


def estimate_one(closing: float | None, end: float | None, trajectory: str | None) -> float | None:
    v = estimate([closing], [end], [trajectory]).iloc[0]
    return None if v is None or v != v else float(v)


@dataclass(frozen=True)
class Agreement:
    """How the estimate agrees with real survey scores on the calls that have both."""

    n: int
    mae: float | None  # mean absolute error, points on the 1-5 scale
    spearman: float | None  # rank correlation (None under 3 pairs or without variation)
    within_one_pct: float | None  # share of calls where |estimate - survey| <= 1


def _numbers(values) -> pd.Series:
    """Values as floats (non-numbers NaN); a float array is taken as it is."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return pd.Series(values)
    return pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce")


def agreement(estimates, scores) -> Agreement:
    df = pd.DataFrame({"e": _numbers(estimates), "s": _numbers(scores)}).dropna()
    n = len(df)
    if not n:
        return Agreement(0, None, None, None)
    diff = (df["e"].astype(float) - df["s"].astype(float)).abs()
    rho = None
    if n >= 3 and df["e"].nunique() > 1 and df["s"].nunique() > 1:
        # Spearman = Pearson of average ranks (pandas' method="spearman" imports scipy: 3 s the first time)
        rho = float(df["e"].astype(float).rank().corr(df["s"].astype(float).rank()))
    return Agreement(n, float(np.mean(diff)), rho, 100.0 * float((diff <= 1.0).mean()))
