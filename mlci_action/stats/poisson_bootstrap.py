"""The Poisson bootstrap of a paired metric delta, mergeable across partitions.

The multinomial bootstrap draws n rows with replacement from the whole test set: it needs every
row in one place. The Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012,
"Estimating uncertainty for massive data streams") gives each row an independent Poisson(1)
weight per replicate instead, which approximates it closely for all but tiny n and needs no
row but its own. A partition's replicates reduce to three sums per replicate (the weights, and
the weighted per-row losses of each model), so partitions are bootstrapped where they live and
merged by adding their sums: exactly, in any order. The weights are drawn from a generator
seeded by (seed, partition index), so a fixed seed and partitioning give the same interval
whichever worker ran which partition.

Metrics that are means of per-row values (accuracy as per-row correctness, log loss, squared
or absolute error) are ratios of these sums; ROC AUC and F1 are not, and need other merges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlci_action.stats.intervals import expanded_percentile

METHOD = "poisson-bootstrap"
"""As run.json records it."""


@dataclass(frozen=True)
class PoissonSums:
    """Per replicate: the sum of the weights and of each model's weighted per-row values."""

    weights: npt.NDArray[np.float64]
    candidate: npt.NDArray[np.float64]
    baseline: npt.NDArray[np.float64]
    rows: int
    candidate_total: float
    """The unweighted sums (the point estimate's), kept exact as the rows are."""
    baseline_total: float

    def merge(self, other: PoissonSums) -> PoissonSums:
        if self.weights.shape != other.weights.shape:
            raise ValueError("partitions bootstrapped with different numbers of replicates")
        return PoissonSums(
            self.weights + other.weights,
            self.candidate + other.candidate,
            self.baseline + other.baseline,
            self.rows + other.rows,
            self.candidate_total + other.candidate_total,
            self.baseline_total + other.baseline_total,
        )

    @property
    def delta(self) -> float:
        """Candidate minus baseline, of the means over all rows (no weights)."""
        return (self.candidate_total - self.baseline_total) / self.rows

    def deltas(self) -> npt.NDArray[np.float64]:
        """The replicates' deltas of weighted means (NaN where every weight was 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                self.weights > 0, (self.candidate - self.baseline) / self.weights, np.nan
            )

    def interval(self, confidence: float) -> tuple[float, float] | None:
        return expanded_percentile(self.deltas(), confidence, self.rows)


def partition_sums(
    candidate: npt.ArrayLike,
    baseline: npt.ArrayLike,
    *,
    seed: int,
    partition: int,
    replicates: int,
    chunk: int = 1 << 16,
) -> PoissonSums:
    """One partition's sums from its rows' per-row values of each model (same order)."""
    c = np.asarray(candidate, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if c.shape != b.shape or c.ndim != 1:
        raise ValueError("per-row values of both models, one each per row")
    generator = np.random.default_rng([seed, partition])
    weights = np.zeros(replicates)
    c_sums, b_sums = np.zeros(replicates), np.zeros(replicates)
    for start in range(0, len(c), chunk):  # a (replicates x chunk) block at a time
        draws = generator.poisson(1.0, size=(replicates, min(chunk, len(c) - start)))
        weights += draws.sum(axis=1)
        c_sums += draws @ c[start : start + chunk]
        b_sums += draws @ b[start : start + chunk]
    return PoissonSums(weights, c_sums, b_sums, len(c), float(c.sum()), float(b.sum()))
