"""The bootstrap scorers that need an order: ROC AUC, average precision, median absolute error.

Each sorts the rows once, when it is built; on a chunk of count weights (resamples x rows) it
reorders the weights by that one sort and reads cumulative weights along it:

- ROC AUC is the weighted Mann-Whitney U: rows by ascending score, negatives first among
  equal scores (tied rows of one class summed into one run), so each positive run's running
  count of negative weight counts every negative below or tied with it; each score held by
  both classes then takes back half of its positive x negative weight.
- Average precision is scikit-learn's step-wise sum over the distinct scores, highest first:
  each score that reaches positives adds their weight times the precision there.
- The median of the absolute errors is the value where the cumulative weight passes half.

Counts are exact integers until the final division, so each value equals scikit-learn's on
the explicitly resampled rows to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from mlci_action.worker.fast_scores import Chunk

Array = npt.NDArray[Any]
Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]


def _cumulative(weights: Array) -> Array:
    """Running sums along the rows, in int32 where the totals cannot overflow it."""
    wide = weights.shape[1] >= 1 << 23  # 255 x rows could pass 2**31
    return np.cumsum(weights, axis=1, dtype=np.int64 if wide else np.int32)


def _groups(ranked: Array) -> Counts:
    """The group number of each sorted value (equal values, one group)."""
    return np.cumsum(np.r_[True, ranked[1:] != ranked[:-1]]) - 1


class _Ranked:
    """One binary ROC AUC: the sort, and the runs of equal (score, class) along it."""

    def __init__(self, hits: Array, scores: Floats) -> None:
        self.order = np.lexsort((hits, scores))  # ascending score, negatives first in a tie
        positive = hits[self.order].astype(np.uint8)
        ranked = scores[self.order]
        same = (ranked[1:] == ranked[:-1]) & (positive[1:] == positive[:-1])
        starts = np.flatnonzero(np.r_[True, ~same])
        # tied rows of one class are summed into one run before anything else (one reduceat)
        self.starts = starts if len(starts) < len(ranked) else None
        self.positive = positive[starts]
        self.negative = (1 - self.positive).astype(np.uint8)
        # a score held by both classes: a negative run right before a positive run
        mixed = np.flatnonzero(
            (ranked[starts][1:] == ranked[starts][:-1]) & (self.positive[1:] > self.positive[:-1])
        )
        self.tied_negative, self.tied_positive = mixed, mixed + 1

    def doubled_u(self, weights: Array) -> tuple[Counts, Counts, Counts]:
        """2 x U, and the positive and negative weight, of each resample."""
        ranked = np.take(weights, self.order, axis=1)
        if self.starts is not None:
            ranked = np.add.reduceat(ranked, self.starts, axis=1, dtype=np.int32)
        negative = ranked * self.negative
        below = _cumulative(negative)  # at a positive run: the negatives below or tied
        positive = ranked - negative
        doubled = 2 * np.einsum("ij,ij->i", positive, below, dtype=np.int64)
        if self.tied_positive.size:  # ties count half: take back half of each tied pair
            tied_pos = np.take(ranked, self.tied_positive, axis=1)
            tied_neg = np.take(ranked, self.tied_negative, axis=1)
            doubled -= np.einsum("ij,ij->i", tied_pos, tied_neg, dtype=np.int64)
        return doubled, positive.sum(axis=1, dtype=np.int64), below[:, -1].astype(np.int64)


def auc_scorer(onehot: Array, probs: Floats) -> Callable[[Chunk], Floats]:
    """ROC AUC (one column: binary; several: one-vs-rest macro average)."""
    ranked = [_Ranked(onehot[:, k], probs[:, k]) for k in range(onehot.shape[1])]

    def score(chunk: Chunk) -> Floats:
        total = np.zeros(len(chunk.weights))
        for one in ranked:
            doubled, positive, negative = one.doubled_u(chunk.weights)
            pairs = 2 * positive * negative
            total += np.divide(doubled, pairs, out=np.full(len(total), np.nan), where=pairs > 0)
        return total / len(ranked)

    return score


def average_precision_scorer(hits: Array, scores: Floats) -> Callable[[Chunk], Floats]:
    """Average precision (no interpolation); a resample without positives scores 0, as in
    scikit-learn (with a warning)."""
    order = np.argsort(-scores, kind="stable")
    positive = hits[order].astype(np.uint8)
    group = _groups(scores[order])
    ends = np.r_[np.flatnonzero(np.diff(group)), len(group) - 1]
    starts = np.r_[0, ends[:-1] + 1]
    reached = np.bincount(group, positive) > 0  # only thresholds that reach positives add
    ends, starts = ends[reached], starts[reached]
    before, first = np.maximum(starts - 1, 0), starts == 0

    def score(chunk: Chunk) -> Floats:
        ranked = np.take(chunk.weights, order, axis=1)
        true_pos = _cumulative(ranked * positive)
        seen = _cumulative(ranked)
        at_end = np.take(true_pos, ends, axis=1).astype(np.float64)
        gained = at_end - np.take(true_pos, before, axis=1)
        gained[:, first] = at_end[:, first]
        reach = np.take(seen, ends, axis=1)
        precision = np.divide(at_end, reach, out=np.zeros_like(at_end), where=reach > 0)
        total = true_pos[:, -1].astype(np.float64) if len(order) else np.zeros(len(ranked))
        summed = (gained * precision).sum(axis=1)
        values = np.divide(summed, total, out=np.zeros_like(summed), where=total > 0)
        values[seen[:, -1] == 0] = np.nan  # an empty (Poisson) resample
        return values

    return score


def median_scorer(values: Floats) -> Callable[[Chunk], Floats]:
    """The median of the values on each resample (the middle two's mean for an even count)."""
    order = np.argsort(values, kind="stable")
    ranked = values[order]

    def score(chunk: Chunk) -> Floats:
        seen = _cumulative(np.take(chunk.weights, order, axis=1))
        total = seen[:, -1]
        found = []
        for position in ((total - 1) // 2, total // 2):  # the middle one, or the middle two
            index = (seen <= position[:, None]).sum(axis=1)
            found.append(ranked[np.minimum(index, len(ranked) - 1)])
        median = (found[0] + found[1]) / 2
        median[total == 0] = np.nan
        return median

    return score
