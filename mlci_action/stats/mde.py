"""The minimum detectable effect: the smallest true delta a two-sided test at ``confidence``
detects with probability ``power`` on this test set, ``(z_{1-alpha/2} + z_power) * se``.

The standard error comes from the test used: for paired accuracy the discordance
(Connor 1987: ``se = sqrt(discordant share / n)`` under no difference), for ROC AUC DeLong's
variance, and otherwise the standard deviation of the bootstrap deltas.
"""

from __future__ import annotations

import math

from scipy import stats

POWER = 0.8


def mde(se: float, confidence: float, power: float = POWER) -> float:
    """The minimum detectable effect for a delta with standard error ``se``."""
    z_alpha = float(stats.norm.ppf(0.5 + confidence / 2))
    z_power = float(stats.norm.ppf(power))
    return (z_alpha + z_power) * se


def paired_proportion_se(discordant: int, rows: int) -> float:
    """The null standard error of a paired accuracy delta: ``sqrt(share / n)``, with the share
    of discordant rows at least one row (two identical models still have some resolution)."""
    share = max(discordant, 1) / rows
    return math.sqrt(share / rows)
