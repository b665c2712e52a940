"""Rounding for the numbers init writes: outward, to two significant figures."""

from __future__ import annotations

import math


def round_out(value: float, *, up: bool, figures: int = 2) -> float:
    """``value`` rounded away from the data to ``figures`` significant figures.

    Rounding down (``up=False``) never returns more than ``value``, rounding up never less:
    ``round_out(32.14, up=False) == 32.0``, ``round_out(6660, up=True) == 6700.0``.
    """
    if value == 0 or not math.isfinite(value):
        return value
    exponent = math.floor(math.log10(abs(value))) - figures + 1
    step = 10.0**exponent
    steps = math.ceil(value / step) if up else math.floor(value / step)
    # round() drops binary noise (0.30000000000000004) without moving past the bound
    return round(steps * step, max(0, -exponent))


def ceil_to(value: float, decimals: int) -> float:
    """``value`` rounded up at ``decimals`` decimals: ``ceil_to(1 / 69, 4) == 0.0145``."""
    factor = 10**decimals
    return math.ceil(round(value * factor, 9)) / factor


def floor_to(value: float, decimals: int) -> float:
    factor = 10**decimals
    return math.floor(round(value * factor, 9)) / factor
