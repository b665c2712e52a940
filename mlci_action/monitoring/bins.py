"""The one bin rule and PSI shared by the serving image's live gauges and ``mlci monitor``.

Pure numpy. A reference profile's numeric feature has ``K`` bins between ``K + 1`` strictly
increasing edges (the training min and max at the ends); a live value goes to the bin whose
inner edges bracket it, values below the first edge to the first bin and above the last to
the last, so a shift beyond the training range still lands somewhere. NaN is "missing".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

MISSING = -1
"""What :func:`bin_index` gives a NaN."""

EPS = 1e-4


def bin_index(edges: Sequence[float] | npt.NDArray[Any], values: Any) -> npt.NDArray[np.int64]:
    """Each value's bin, ``0 .. K - 1`` for ``K + 1`` edges, or :data:`MISSING` for NaN.

    ``clip(searchsorted(edges[1:-1], x, side="right"), 0, K - 1)``: a value equal to an inner
    edge belongs to the bin above it."""
    edge = np.asarray(edges, dtype=np.float64)
    x = np.asarray(values, dtype=np.float64)
    bins = len(edge) - 1
    index = np.clip(np.searchsorted(edge[1:-1], x, side="right"), 0, max(bins - 1, 0))
    return np.where(np.isnan(x), MISSING, index).astype(np.int64)


def numeric_counts(
    edges: Sequence[float] | npt.NDArray[Any], values: Any
) -> tuple[npt.NDArray[np.int64], int]:
    """(rows per bin, missing rows) of ``values`` binned on ``edges``."""
    index = bin_index(edges, values)
    present = index[index != MISSING]
    counts = np.bincount(present, minlength=len(edges) - 1).astype(np.int64)
    return counts, int(len(index) - len(present))


def psi(expected_counts: Any, actual_counts: Any, eps: float = EPS) -> float:
    """Population stability index of two aligned count vectors.

    ``sum((a - e) * ln(a / e))`` over the bins, ``e`` and ``a`` the proportions, each clipped
    below at ``eps`` (an empty bin on one side is large, never infinite). Either side empty
    (no rows at all) is NaN: there is nothing to compare."""
    expected = np.asarray(expected_counts, dtype=np.float64)
    actual = np.asarray(actual_counts, dtype=np.float64)
    if expected.shape != actual.shape:
        raise ValueError(f"psi: {expected.shape} expected bins against {actual.shape} actual")
    return float(psi_rows(expected[np.newaxis], actual[np.newaxis], eps)[0])


def psi_rows(
    expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64], eps: float = EPS
) -> npt.NDArray[np.float64]:
    """:func:`psi` of each row of two aligned 2-D count arrays (a row per feature, its bins
    along the last axis; bins padded with 0 on both sides add nothing)."""
    e_total = expected.sum(axis=1, keepdims=True)
    a_total = actual.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.clip(expected / e_total, eps, None)
        a = np.clip(actual / a_total, eps, None)
        found = np.sum((a - e) * np.log(a / e), axis=1)
    found[(e_total[:, 0] <= 0) | (a_total[:, 0] <= 0)] = np.nan
    return found


def numeric_psi(
    expected_counts: Sequence[int],
    expected_missing: int,
    actual_counts: Sequence[int] | npt.NDArray[Any],
    actual_missing: int,
    eps: float = EPS,
) -> float:
    """PSI over the bins, with "missing" a bin of its own only if either side has any."""
    expected, actual = list(expected_counts), list(actual_counts)
    if expected_missing > 0 or actual_missing > 0:
        expected.append(expected_missing)
        actual.append(actual_missing)
    return psi(expected, actual, eps)


def categorical_psi(
    expected: Mapping[str, int],
    expected_other: int,
    expected_missing: int,
    actual: Mapping[str, int],
    actual_other: int = 0,
    actual_missing: int = 0,
    eps: float = EPS,
) -> float:
    """PSI over the union of both sides' levels plus "other" (plus "missing" if either side
    has any); a level one side never saw counts 0 there."""
    levels = list(expected) + [level for level in actual if level not in expected]
    e = [expected.get(level, 0) for level in levels] + [expected_other]
    a = [actual.get(level, 0) for level in levels] + [actual_other]
    if expected_missing > 0 or actual_missing > 0:
        e.append(expected_missing)
        a.append(actual_missing)
    return psi(e, a, eps)


def bin_counts(edges: Sequence[float], values: npt.ArrayLike) -> tuple[list[int], int]:
    """(rows per bin, missing rows) of ``values`` as plain ints (for the profile's JSON)."""
    counts, missing = numeric_counts(edges, values)
    return [int(c) for c in counts], missing
