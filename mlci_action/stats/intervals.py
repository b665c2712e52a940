"""Bootstrap intervals that keep their promise on small test sets, and when none can.

The plain percentile interval under-covers on small samples (it is too narrow by a factor
of about sqrt((n - 1) / n) and uses normal instead of t quantiles). Hesterberg's expanded
percentile interval (Hesterberg 2015, "What teachers should know about the bootstrap",
The American Statistician 69(4)) reads the bootstrap distribution at a wider tail instead::

    alpha' / 2 = Phi(sqrt(n / (n - 1)) * t_{alpha/2, n-1})

which tends to alpha / 2 for large n and keeps the percentile interval's transformation
invariance.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

MIN_ROWS = 30
"""Below this many test rows no interval means much."""
MIN_MINORITY = 10
"""Classification: below this many rows of the rarest class no interval means much."""


def expanded_tail(confidence: float, rows: int) -> float:
    """The lower tail probability at which the expanded interval reads the bootstrap
    distribution (the plain percentile interval reads it at (1 - confidence) / 2)."""
    alpha = 1 - confidence
    if rows < 2:
        return alpha / 2
    t = float(stats.t.ppf(alpha / 2, rows - 1))
    return float(stats.norm.cdf(math.sqrt(rows / (rows - 1)) * t))


def expanded_percentile(
    deltas: npt.ArrayLike, confidence: float, rows: int
) -> tuple[float, float] | None:
    """The expanded percentile interval of the bootstrap ``deltas`` (NaN dropped); None when
    no resample defines the statistic."""
    found = np.asarray(deltas, dtype=float)
    found = found[np.isfinite(found)]
    if found.size == 0:
        return None
    tail = expanded_tail(confidence, rows)
    low, high = np.quantile(found, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_p_value(deltas: npt.ArrayLike) -> float | None:
    """Two-sided p-value of no difference: twice the share of resamples on the far side of 0
    (with the observed sample counted once, so never 0)."""
    found = np.asarray(deltas, dtype=float)
    found = found[np.isfinite(found)]
    if found.size == 0:
        return None
    below = (np.sum(found <= 0) + 1) / (found.size + 1)
    above = (np.sum(found >= 0) + 1) / (found.size + 1)
    return float(min(1.0, 2 * min(below, above)))


def too_small(rows: int, minority: tuple[str, int] | None = None) -> str | None:
    """Why a test set (or slice) is too small for an interval to mean much; None when it is not.
    ``minority``: the rarest class's label and count (classification)."""
    if rows < MIN_ROWS:
        return f"{rows} rows (fewer than {MIN_ROWS})"
    if minority is not None and minority[1] < MIN_MINORITY:
        label, count = minority
        return f"{count} rows of class {label} (fewer than {MIN_MINORITY})"
    return None
