"""The bin rule and the population stability index, shared by `mlci monitor` and the serving
image's drift gauges (the monitoring contract): pure numpy, no pandas.

A reference histogram has K bins between K + 1 strictly increasing edges (the first and the
last are the training minimum and maximum). A live value goes to the bin whose edges hold it;
values below the first edge go to the first bin, above the last to the last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

MISSING = -1
"""The index :func:`bin_index` gives a missing (NaN) value."""


def bin_index(edges: Sequence[float] | npt.ArrayLike, values: npt.ArrayLike) -> npt.NDArray[Any]:
    """Each value's bin, 0..K-1: ``clip(searchsorted(edges[1:-1], x, side="right"), 0, K-1)``;
    NaN (missing) gets :data:`MISSING`."""
    cuts = np.asarray(edges, dtype=float)
    x = np.asarray(values, dtype=float)
    bins = max(len(cuts) - 1, 1)
    index = np.clip(np.searchsorted(cuts[1:-1], x, side="right"), 0, bins - 1)
    return np.where(np.isnan(x), MISSING, index).astype(np.int64)


def bin_counts(edges: Sequence[float], values: npt.ArrayLike) -> tuple[list[int], int]:
    """(rows per bin, missing rows) of ``values`` under the bin rule."""
    index = bin_index(edges, values)
    bins = max(len(edges) - 1, 1)
    counts = np.bincount(index[index != MISSING], minlength=bins)
    return [int(c) for c in counts], int(np.sum(index == MISSING))


def psi(
    expected_counts: Sequence[float] | npt.ArrayLike,
    actual_counts: Sequence[float] | npt.ArrayLike,
    eps: float = 1e-4,
) -> float:
    """Population stability index ``sum((a - e) * ln(a / e))`` over the bins, with ``e`` and
    ``a`` each side's proportions, clipped below at ``eps`` (an empty bin is not infinite).
    Both sides must list the same bins in the same order; an empty side gives NaN."""
    expected = np.asarray(expected_counts, dtype=float)
    actual = np.asarray(actual_counts, dtype=float)
    if expected.shape != actual.shape:
        raise ValueError(f"psi: {expected.shape[0]} expected bins but {actual.shape[0]} actual")
    if expected.sum() <= 0 or actual.sum() <= 0:
        return float("nan")
    e = np.clip(expected / expected.sum(), eps, None)
    a = np.clip(actual / actual.sum(), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))
