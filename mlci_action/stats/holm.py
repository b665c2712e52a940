"""Holm's step-down correction: adjusted p-values that control the family-wise error rate.

Pure Python (the gates stage runs outside the project's environment). Sort the m p-values
ascending; the k-th smallest (k from 0) is multiplied by m - k, made non-decreasing along the
order, and capped at 1. Rejecting every adjusted p-value below alpha is Holm's procedure.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def holm(p_values: Mapping[K, float]) -> dict[K, float]:
    """Each key's Holm-adjusted p-value."""
    order = sorted(p_values, key=lambda name: p_values[name])
    count = len(order)
    adjusted: dict[K, float] = {}
    running = 0.0
    for k, name in enumerate(order):
        running = max(running, min(1.0, (count - k) * p_values[name]))
        adjusted[name] = running
    return adjusted
