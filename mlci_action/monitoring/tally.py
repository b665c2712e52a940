"""Running tallies of live values: what drift needs of a window, block by block, in bounded
memory (pure numpy).

A numeric tally keeps the rows per reference bin, the rows at or below each point of the
reference's CDF (so the Kolmogorov-Smirnov statistic at those points is exact however many
rows stream by), and a uniform sample of at most :data:`SAMPLE` values for the median the
report shows. A categorical tally keeps the rows per level name; a confidence tally the sums
the confidence-based accuracy estimate needs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mlci_action.monitoring.bins import bin_index

SAMPLE = 10_000
"""Values kept per numeric feature for the median (uniform over the window)."""

Floats = npt.NDArray[np.float64]


@dataclass
class NumericTally:
    edges: Floats
    points: Floats
    """The reference CDF's points: ``at_points[j]`` counts live values ``<= points[j]``."""
    seed: int = 0
    counts: npt.NDArray[np.int64] = field(init=False)
    at_points: npt.NDArray[np.int64] = field(init=False)
    missing: int = 0
    rows: int = 0
    sample: Floats = field(init=False)
    _keys: Floats = field(init=False)
    _random: np.random.Generator = field(init=False)
    _sorted_edges: bool = field(init=False)
    _sorted_points: bool = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(max(len(self.edges) - 1, 1), dtype=np.int64)
        self.at_points = np.zeros(len(self.points), dtype=np.int64)
        self.sample = np.empty(0)
        self._keys = np.empty(0)
        self._random = np.random.default_rng(self.seed)
        self._sorted_edges = bool(np.all(np.diff(self.edges) > 0))
        self._sorted_points = bool(np.all(np.diff(self.points) >= 0))

    @property
    def present(self) -> int:
        return self.rows - self.missing

    def add(self, values: Floats) -> None:
        """Fold a block of live values (NaN: missing) into the tally.

        One sort per block, then the bin edges and the CDF points are looked up in the sorted
        values (a few hundred binary searches), instead of a binary search per value: the
        counts equal :func:`.bins.bin_index`'s and ``#values <= point`` exactly."""
        x = np.asarray(values, dtype=float)
        if x.ndim != 1:
            x = x.ravel()
        nan = np.isnan(x)
        missing = int(np.count_nonzero(nan))
        present = np.sort(x)[: x.size - missing]  # NaN sorts last
        self.rows += int(x.size)
        self.missing += missing
        if self._sorted_edges:
            inner = np.searchsorted(present, self.edges[1:-1], side="left")
            self.counts += np.diff(inner, prepend=0, append=present.size)[: len(self.counts)]
        else:  # edges out of order (a hand-written profile): value by value, the one bin rule
            index = bin_index(self.edges, present)
            self.counts += np.bincount(index, minlength=len(self.counts))[: len(self.counts)]
        if self._sorted_points:
            self.at_points += np.searchsorted(present, self.points, side="right")
        elif self.points.size:  # values in (points[j-1], points[j]] are <= points[j], ...
            first = np.searchsorted(self.points, present, side="left")
            self.at_points += np.cumsum(np.bincount(first, minlength=len(self.points) + 1))[:-1]
        self._sample(x[~nan] if missing else x)

    def _sample(self, present: Floats) -> None:
        """Keep the :data:`SAMPLE` values of smallest random key (a uniform sample of every
        present value so far). Once the sample is full, only values whose key would fall
        below the largest kept key can enter: their number is binomial and their keys are
        uniform below it, so only those few are drawn."""
        if self.sample.size < SAMPLE:
            keys = self._random.random(present.size)
            chosen = present
        else:
            limit = float(self._keys.max())
            count = int(self._random.binomial(present.size, limit)) if present.size else 0
            if not count:
                return
            chosen = present[self._random.choice(present.size, count, replace=False)]
            keys = self._random.random(count) * limit
        self.sample = np.concatenate([self.sample, chosen])
        self._keys = np.concatenate([self._keys, keys])
        if self.sample.size > SAMPLE:
            keep = np.argpartition(self._keys, SAMPLE)[:SAMPLE]
            self.sample, self._keys = self.sample[keep], self._keys[keep]


@dataclass
class CategoricalTally:
    levels: Counter[str] = field(default_factory=Counter)
    missing: int = 0
    rows: int = 0

    def add(self, counts: dict[str, int], missing: int) -> None:
        self.levels.update(counts)
        self.missing += missing
        self.rows += sum(counts.values()) + missing


@dataclass
class ConfidenceTally:
    """Rows with every class probability, the sum of their largest probability ``c`` and of
    ``c (1 - c)``: the confidence-based accuracy estimate's mean and variance."""

    rows: int = 0
    total: float = 0.0
    variance: float = 0.0

    def add(self, proba: Floats) -> None:
        table = np.asarray(proba, dtype=float)
        if table.size == 0:
            return
        table = table[~np.isnan(table).any(axis=1)]
        certainty = table.max(axis=1) if table.size else np.empty(0)
        self.rows += int(certainty.size)
        self.total += float(certainty.sum())
        self.variance += float(np.sum(certainty * (1 - certainty)))


Tally = NumericTally | CategoricalTally


def numeric_tally(edges: Any, points: Any) -> NumericTally:
    return NumericTally(np.asarray(edges, dtype=float), np.asarray(points, dtype=float))
