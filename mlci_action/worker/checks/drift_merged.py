"""The drift check of a partitioned data set (or against a partitioned baseline), merged from
its partitions' drift tallies (:mod:`.drift_tally`): the one-file check's fields, verdicts
and details (:mod:`.drift`).

* A categorical feature's PSI is the one-file figure: the counts add exactly (the one-file
  check samples 100,000 rows of a larger data set; the merge counts every row).
* A numeric feature's KS statistic is taken at the grid's bin edges: the KS statistic of the
  values each rounded to its bin. It never exceeds the one over every value, and is at most
  the largest share of one side's rows in a single bin below it; the detail says how far it
  could be (``at most …``), computed from the same counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlci_action.config import DriftCheck
from mlci_action.record import DataCheck
from mlci_action.worker.checks.drift import (
    column_result,
    feature_columns,
    not_compared,
    psi_of_counts,
)
from mlci_action.worker.checks.drift_tally import (
    PRECISION,
    DriftPlan,
    DriftTally,
    NumericTally,
)


@dataclass(frozen=True)
class BaselineOutcome:
    """The baseline's training data for the drift check: its partitions' drift tallies, its
    first file's columns and the plan they were tallied by; or why it is not compared."""

    tallies: list[DriftTally] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    plan: DriftPlan | None = None
    target: str = ""
    problem: str | None = None
    unchanged: bool = False

    def checks(
        self, candidate: Sequence[DriftTally], columns: list[str], limits: DriftCheck
    ) -> list[DataCheck]:
        """The drift checks against the candidate's tallies (``columns``: its first file's)."""
        if self.unchanged or self.problem is not None or self.plan is None:
            return [not_compared(self.problem, limits)]
        return merged_drift(
            self.tallies, candidate, self.plan, (self.columns, columns), self.target, limits
        )


def merged_drift(
    baseline: Sequence[DriftTally],
    candidate: Sequence[DriftTally],
    plan: DriftPlan,
    columns: tuple[list[str], list[str]],
    target: str,
    limits: DriftCheck,
) -> list[DataCheck]:
    """``columns``: the baseline's and the candidate's, from their first files' footers."""
    checks, shared = feature_columns(columns[0], columns[1], target, limits)
    for column in shared:
        if column in plan.numeric:
            statistic, detail = numeric_drift(
                [t.numeric[column] for t in baseline], [t.numeric[column] for t in candidate]
            )
            checks.append(column_result(column, statistic, detail, numeric=True, limits=limits))
        else:
            p = _counts([t.levels[column].counts for t in baseline])
            q = _counts([t.levels[column].counts for t in candidate])
            statistic, detail = psi_of_counts(p, q)
            checks.append(column_result(column, statistic, detail, numeric=False, limits=limits))
    return checks


def _counts(parts: Sequence[dict[str, int]]) -> pd.Series:
    """The counts as ``value_counts()`` gives them: first met first, then largest first."""
    counts: dict[str, int] = {}
    for part in parts:
        for value, count in part.items():
            counts[value] = counts.get(value, 0) + count
    return pd.Series(counts, dtype="int64").sort_values(ascending=False, kind="stable")


def _histogram(parts: Sequence[NumericTally]) -> tuple[np.ndarray, np.ndarray, float]:
    keys = np.concatenate([np.asarray(p.keys, np.int64) for p in parts] or [np.empty(0, np.int64)])
    counts = np.concatenate(
        [np.asarray(p.counts, np.int64) for p in parts] or [np.empty(0, np.int64)]
    )
    unique, at = np.unique(keys, return_inverse=True)
    return (
        unique,
        np.bincount(at, weights=counts, minlength=len(unique)),
        sum(p.total for p in parts),
    )


def numeric_drift(
    baseline: Sequence[NumericTally], candidate: Sequence[NumericTally]
) -> tuple[float, str]:
    """The KS statistic at the bin edges, and the detail with its bound."""
    old_keys, old_counts, old_total = _histogram(baseline)
    new_keys, new_counts, new_total = _histogram(candidate)
    n_old, n_new = old_counts.sum(), new_counts.sum()
    if not n_old or not n_new:
        return (0.0 if n_old == n_new else 1.0), "no values on one side"
    low, high = ks_bounds(old_keys, old_counts, new_keys, new_counts)
    detail = (
        f"KS statistic {low:.3f} on bins of {2 * PRECISION:.0%} (over the values at most "
        f"{high:.3f}; mean {old_total / n_old:.4g} → {new_total / n_new:.4g})"
    )
    return low, detail


def ks_bounds(
    a_keys: np.ndarray, a_counts: np.ndarray, b_keys: np.ndarray, b_counts: np.ndarray
) -> tuple[float, float]:
    """(the KS statistic at the bins' edges, an upper bound of the one over the values).

    With ``A``, ``B`` the two sides' cumulative shares through each bin (of the union of the
    bins, ascending), the values' CDFs meet the edges' exactly, and inside a bin each CDF lies
    between its value at the bin below and at its own: the KS statistic over the values is at
    least ``max |A - B|`` and at most ``max(A_i - B_{i-1}, B_i - A_{i-1})``."""
    keys = np.union1d(a_keys, b_keys)
    a = np.zeros(len(keys))
    b = np.zeros(len(keys))
    a[np.searchsorted(keys, a_keys)] = a_counts
    b[np.searchsorted(keys, b_keys)] = b_counts
    cdf_a, cdf_b = np.cumsum(a) / a.sum(), np.cumsum(b) / b.sum()
    low = float(np.max(np.abs(cdf_a - cdf_b)))
    below_a, below_b = np.concatenate(([0.0], cdf_a[:-1])), np.concatenate(([0.0], cdf_b[:-1]))
    high = float(max(low, np.max(cdf_a - below_b), np.max(cdf_b - below_a)))
    return low, high
