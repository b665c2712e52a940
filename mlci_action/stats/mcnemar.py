"""McNemar's exact test for the paired accuracy delta of two models on the same rows.

Only the discordant rows carry information: ``b`` rows the candidate gets right and the
baseline wrong, ``c`` the other way round. Under no difference, ``b`` is Binomial(b + c, 1/2);
the exact two-sided p-value doubles the smaller tail (capped at 1), as statsmodels'
``mcnemar(exact=True)`` does. ``mid_p=True`` takes half the probability of the observed
count off (less conservative, Fagerland et al. 2013).

The interval of the delta ``(b - c) / n`` is Agresti & Min's (2005): the Wald interval of a
difference of paired proportions after adding 1/2 to each cell of the 2x2 table. It is
unconditional: with few or no discordant rows it still says how large a difference these rows
could hide (an interval conditional on ``b + c``, such as Clopper-Pearson on ``b / (b + c)``,
collapses to 0 when the two models agree on every test row, which would claim certainty the
test set does not have). Significance is the exact test's: p below ``1 - confidence``.
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
    delta = (b - c) / n
    low, high = agresti_min(b, c, n, confidence)
    se = math.sqrt(max((b + c) / n - delta**2, 0.0) / n)
    return PairedTest(delta, low, high, p_value(b, c, mid_p=mid_p), se)


def agresti_min(b: int, c: int, n: int, confidence: float) -> tuple[float, float]:
    """Agresti & Min's interval of the paired difference (b - c) / n: 1/2 added to each cell."""
    b_, c_, n_ = b + 0.5, c + 0.5, n + 2.0
    centre = (b_ - c_) / n_
    spread = math.sqrt(max((b_ + c_) - (b_ - c_) ** 2 / n_, 0.0)) / n_
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return max(-1.0, centre - z * spread), min(1.0, centre + z * spread)
