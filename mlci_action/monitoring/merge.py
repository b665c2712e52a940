"""The reference profile of a partitioned data set, merged from one partition at a time.

Per numeric column each partition gives a :class:`Summary`: its row and missing counts and
its non-missing values' quantiles at ``0, 1/GRID, ..., 1``. Summaries merge by their row
counts: the merged CDF is the row-weighted sum of the partitions' CDFs (each linear between
its quantiles), inverted at the asked probabilities. **Documented error:** a merged quantile's
rank among all the rows is within ``1/GRID + partitions/rows`` of the asked one (0.1 % of the
rows with GRID = 1000, plus one row per partition); with one partition it is the exact
quantile. The histogram's counts are exact: a second pass bins every partition on the merged
edges. Categorical levels merge exactly: every level's count, summed in file order
(:func:`mlci_action.monitoring.profile.top_levels` then keeps the 50 most frequent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mlci_action.monitoring.bins import bin_counts
from mlci_action.monitoring.profile import (
    MAX_BINS,
    QUANTILES,
    SKETCH_POINTS,
    FeatureProfile,
    NumericProfile,
    is_numeric,
    level_counts,
    top_levels,
)

if TYPE_CHECKING:
    import pandas as pd

GRID = 1000
"""Each partition's quantiles at 0, 1/GRID, ..., 1 (1,001 floats a column)."""


@dataclass(frozen=True)
class Summary:
    """One partition's values of one numeric column."""

    present: int
    missing: int
    points: npt.NDArray[np.float64]
    """The non-missing values' quantiles at 0, 1/GRID, ..., 1 (empty when none)."""


def summarize(values: Any) -> Summary:
    x = np.asarray(values, dtype=float)
    present = x[~np.isnan(x)]
    points = np.quantile(present, np.linspace(0, 1, GRID + 1)) if present.size else np.empty(0)
    return Summary(present=int(present.size), missing=int(x.size - present.size), points=points)


def merged_quantiles(summaries: list[Summary], probabilities: Any) -> npt.NDArray[np.float64]:
    """The quantiles at ``probabilities`` of all the summaries' values (see the module's
    error bound); the summaries must hold at least one value."""
    kept = [s for s in summaries if s.present]
    total = sum(s.present for s in kept)
    grid = np.linspace(0, 1, GRID + 1)
    xs = np.unique(np.concatenate([s.points for s in kept]))
    cdf = np.zeros(xs.size)
    for s in kept:
        cdf += s.present / total * np.interp(xs, s.points, grid, left=0.0, right=1.0)
    cdf = np.maximum.accumulate(np.clip(cdf, 0.0, 1.0))
    return np.interp(np.asarray(probabilities, dtype=float), cdf, xs)


def numeric_profile(summaries: list[Summary], counts: list[int] | None = None) -> NumericProfile:
    """A numeric column's profile from its partitions' summaries; ``counts``: its histogram
    on :func:`edges` (binned in a second pass), else a profile without counts yet."""
    missing = sum(s.missing for s in summaries)
    if not any(s.present for s in summaries):
        return NumericProfile(edges=[0.0, 0.0], counts=[0], missing=missing)
    cuts = edges(summaries)
    found = merged_quantiles(summaries, [float(q) for q in QUANTILES])
    points = merged_quantiles(summaries, np.linspace(0, 1, SKETCH_POINTS))
    return NumericProfile(
        edges=cuts,
        counts=counts if counts is not None else [0] * (len(cuts) - 1),
        missing=missing,
        quantiles={q: float(v) for q, v in zip(QUANTILES, found, strict=True)},
        sketch=[float(p) for p in points],
    )


def edges(summaries: list[Summary]) -> list[float]:
    """The histogram's edges, as the one-file profile takes them: the values' quantiles at
    MAX_BINS + 1 points, repeated ones dropped."""
    cuts = np.unique(merged_quantiles(summaries, np.linspace(0, 1, MAX_BINS + 1)))
    return [float(e) for e in cuts] if cuts.size > 1 else [float(cuts[0])] * 2


def feature_profiles(
    frames: Callable[[], Iterator[pd.DataFrame]], target: str
) -> tuple[dict[str, FeatureProfile], int]:
    """The training data's feature profiles and row count, ``frames()`` giving its
    partitions in file order (called twice: summaries and level counts, then the numeric
    columns' histograms on the merged edges). A column is numeric when it is in the first
    partition."""
    numeric: dict[str, list[Summary]] = {}
    levels: dict[str, tuple[dict[str, int], int]] = {}
    order: list[str] = []
    rows = 0
    for frame in frames():
        rows += len(frame)
        for name in frame.columns:
            if name == target:
                continue
            column = str(name)
            if column not in numeric and column not in levels:
                order.append(column)
                if is_numeric(frame[name]):
                    numeric[column] = []
                else:
                    levels[column] = ({}, 0)
            if column in numeric:
                numeric[column].append(summarize(frame[name]))
            else:
                seen, missing = levels[column]
                counts, more = level_counts(frame[name])
                for level, count in counts.items():
                    seen[level] = seen.get(level, 0) + count
                levels[column] = (seen, missing + more)
    cuts = {column: edges(s) for column, s in numeric.items() if any(x.present for x in s)}
    totals = {column: np.zeros(len(e) - 1, dtype=np.int64) for column, e in cuts.items()}
    if cuts:
        for frame in frames():
            for column, e in cuts.items():
                if column in frame:
                    totals[column] += np.asarray(bin_counts(e, frame[column].to_numpy(float))[0])
    profiles: dict[str, FeatureProfile] = {}
    for frame_column in order:
        if frame_column in numeric:
            found = totals.get(frame_column)
            profiles[frame_column] = numeric_profile(
                numeric[frame_column], None if found is None else [int(c) for c in found]
            )
        else:
            profiles[frame_column] = top_levels(*levels[frame_column])
    return profiles, rows
