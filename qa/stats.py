"""Small exact statistics shared by the reports: means that do not depend on the order of the values."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


def exact_mean(values: Iterable[Any] | pd.Series | np.ndarray) -> float | None:
    """Mean of the values that are numbers (`math.fsum`: the same result in any order); None when there are none."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        known = values[~np.isnan(values)]
        return math.fsum(known) / len(known) if len(known) else None
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    numbers = pd.to_numeric(series, errors="coerce").dropna()
    return math.fsum(numbers) / len(numbers) if len(numbers) else None


def true_count(values: Iterable[Any] | pd.Series) -> int:
    """How many values are true (missing ones are not)."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    return int(series.dropna().astype(bool).sum())
