"""One partition's drift tallies (the baseline's training data or the candidate's), mergeable
by adding counts, so the drift check of a partitioned data set needs one read of each.

* A **categorical** feature (not numeric on both sides): each value's row count, as
  ``str(value)`` with missing as ``(missing)``, the values the one-file PSI counts. Exact when
  a partition has at most :data:`MAX_LEVELS` values (beyond that its most frequent ones are
  kept and the rest pooled into ``(other)``).
* A **numeric** feature: its values binned on a fixed grid of relative precision
  :data:`PRECISION` around an ``origin`` (``x - origin`` to the power of ``1 + 2 * PRECISION``,
  as DDSketch's log mapping does; values within :data:`TINY` of the origin share a bin), the
  non-empty bins with their row counts, the sum of the values and the missing count. The grid
  depends on no data, so the baseline's and the candidate's partitions bin alike in any order
  and their counts simply add; a bin key grows with the value, so the KS statistic of the keys
  is the KS statistic at the bins' edges (:mod:`.drift_merged` bounds its distance from the
  one over every value).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PRECISION = 0.005
"""Half a bin's relative width: a bin spans a factor of ``1 + 2 * PRECISION``."""
TINY = 1e-9
"""Distances from the origin below this are one bin (key 0)."""
MAX_KEY = 2**40
"""The key of an infinite distance."""
MAX_LEVELS = 10_000
MISSING = "(missing)"
OTHER = "(other)"

_LOG_GAMMA = float(np.log1p(2 * PRECISION))


@dataclass(frozen=True)
class DriftPlan:
    """What the partitions tally for the drift check, decided from the first files' footers."""

    numeric: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    origins: dict[str, float] = field(default_factory=dict)
    """Each numeric column's grid origin (the candidate's first row group's minimum)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DriftPlan:
        return cls(**data)


@dataclass(frozen=True)
class NumericTally:
    keys: list[int]
    """The non-empty bins, ascending."""
    counts: list[int]
    total: float
    """The sum of the non-missing values (the detail's mean)."""
    missing: int = 0


@dataclass(frozen=True)
class LevelTally:
    counts: dict[str, int]
    """Each value as text, first met first (missing as ``(missing)``)."""


@dataclass(frozen=True)
class DriftTally:
    numeric: dict[str, NumericTally] = field(default_factory=dict)
    levels: dict[str, LevelTally] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DriftTally:
        return cls(
            {name: NumericTally(**column) for name, column in data["numeric"].items()},
            {name: LevelTally(**column) for name, column in data["levels"].items()},
        )


def grid_keys(values: np.ndarray, origin: float) -> np.ndarray:
    """Each (non-missing) value's bin on the grid: an integer growing with the value."""
    distance = values - origin
    size = np.abs(distance)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.ceil((np.log(size) - np.log(TINY)) / _LOG_GAMMA) + 1
    steps = np.where(size < TINY, 0, np.clip(np.nan_to_num(steps, posinf=MAX_KEY), 0, MAX_KEY))
    return (np.sign(distance) * steps).astype(np.int64)


def numeric_tally(column: pd.Series, origin: float) -> NumericTally:
    """A numeric column's values on the grid around ``origin``."""
    values = column.to_numpy(dtype=float, na_value=np.nan)
    present = values[~np.isnan(values)]
    keys, counts = np.unique(grid_keys(present, origin), return_counts=True)
    missing = int(len(values) - len(present))
    return NumericTally(keys.tolist(), counts.tolist(), float(present.sum()), missing)


def drift_tally(frame: pd.DataFrame, plan: DriftPlan) -> DriftTally:
    numeric = {
        column: numeric_tally(frame[column], plan.origins.get(column, 0.0))
        for column in plan.numeric
    }
    levels = {}
    for column in plan.levels:
        values = frame[column]
        counts = values.astype(str).where(values.notna(), MISSING).value_counts(sort=False)
        if len(counts) > MAX_LEVELS:
            kept = counts.nlargest(MAX_LEVELS)
            counts = pd.concat([kept, pd.Series({OTHER: counts.sum() - kept.sum()})])
        levels[column] = LevelTally({str(k): int(v) for k, v in counts.items()})
    return DriftTally(numeric, levels)
