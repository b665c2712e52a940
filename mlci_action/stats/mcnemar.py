"""McNemar's exact test for the paired accuracy delta of two models on the same rows.

Only the discordant rows carry information: ``b`` rows the candidate gets right and the
baseline wrong, ``c`` the other way round. Under no difference, ``b`` is Binomial(b + c, 1/2);
the exact two-sided p-value doubles the smaller tail (capped at 1), as statsmodels'
``mcnemar(exact=True)`` does. ``mid_p=True`` takes half the probability of the observed
count off (less conservative, Fagerland et al. 2013).

The interval of the delta ``(b - c) / n`` is conditional on the number of discordant rows:
the Clopper-Pearson interval of the share ``b / (b + c)``, mapped to the delta. It excludes 0
exactly when the exact p-value is below ``1 - confidence``, so the interval and the test agree.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

from mlci_action.stats import PairedTest


def discordant(correct_c: npt.ArrayLike, correct_b: npt.ArrayLike) -> tuple[int, int]:
    """(b, c): rows only the candidate gets right, rows only the baseline gets right."""
    cand, base = np.asarray(correct_c, dtype=bool), np.asarray(correct_b, dtype=bool)
    return int(np.sum(cand & ~base)), int(np.sum(~cand & base))


def p_value(b: int, c: int, *, mid_p: bool = False) -> float:
    """The exact two-sided p-value of b against c."""
    m = b + c
    if m == 0:
        return 1.0
    low = min(b, c)
    tail = float(stats.binom.cdf(low, m, 0.5))
    if mid_p:
        tail -= 0.5 * float(stats.binom.pmf(low, m, 0.5))
    return min(1.0, 2.0 * tail)


def mcnemar(
    correct_c: npt.ArrayLike, correct_b: npt.ArrayLike, confidence: float, *, mid_p: bool = False
) -> PairedTest:
    """The accuracy delta (candidate - baseline), its conditional exact interval and p-value."""
    b, c = discordant(correct_c, correct_b)
    n = len(np.asarray(correct_c))
    m = b + c
    delta = (b - c) / n
    if m == 0:
        return PairedTest(delta=0.0, low=0.0, high=0.0, p_value=1.0, se=0.0)
    found = stats.binomtest(b, m, 0.5).proportion_ci(confidence, method="exact")
    low, high = (m / n) * (2 * found.low - 1), (m / n) * (2 * found.high - 1)
    se = math.sqrt(max(m / n - delta**2, 0.0) / n)
    return PairedTest(delta, low, high, p_value(b, c, mid_p=mid_p), se)
