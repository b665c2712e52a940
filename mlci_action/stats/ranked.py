"""One binary score column sorted once: its midranks, ROC AUC, ROC and precision-recall curves.

DeLong's test (:mod:`mlci_action.stats.delong`), the point values of ROC AUC and average
precision, and the report's ROC and precision-recall curves all order the same test rows by the
same model's score. :func:`ranked` sorts a column once and keeps the result for the next caller
with the same rows and scores (a small memo keyed by the arrays' contents, so that a caller
needs no handle on the others); everything else is O(rows) on the sorted arrays.

The curves are scikit-learn's (``roc_curve`` with its dropping of collinear points,
``precision_recall_curve``, ``average_precision_score``), computed from the same integer
counts at each distinct score; the tests hold them to scikit-learn's to 1e-12.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Floats = npt.NDArray[np.float64]

MEMO = 4
"""Sorted columns kept (candidate and baseline, for one or two positive columns)."""
_memo: OrderedDict[bytes, Ranked] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Ranked:
    """The rows in ascending order of score (``order``), with each distinct score's run."""

    hits: Array
    """The rows' classes (True: positive), in the original order."""
    scores: Floats
    order: Array
    starts: Array
    """Where each run of equal scores begins in the sorted order (and ``rows`` at the end)."""
    below: Array
    """Positives before each run (and all positives at the end)."""

    @property
    def positives(self) -> int:
        return int(self.below[-1])

    @property
    def negatives(self) -> int:
        return len(self.order) - self.positives

    def midranks(self, rows: Array | None = None) -> Floats:
        """Each row's midrank (1-based, ties averaged) among ``rows`` (a boolean mask; all
        rows when None), in the original row order (0 elsewhere)."""
        sorted_hits = np.ones(len(self.order), dtype=bool) if rows is None else rows[self.order]
        # the runs of equal scores restricted to the chosen rows
        kept = np.cumsum(sorted_hits)
        before = np.r_[0, kept][self.starts]  # chosen rows before each run
        low, high = before[:-1], before[1:]
        mid = (low + 1 + high) / 2
        ranks = np.zeros(len(self.order))
        ranks[self.order[sorted_hits]] = np.repeat(mid, high - low)
        return ranks

    def auc(self) -> float:
        """ROC AUC (Mann-Whitney U from the midranks; ties count one half)."""
        m, n = self.positives, self.negatives
        ranks = self.midranks()[self.hits]
        return float((ranks.sum() - m * (m + 1) / 2) / (m * n))

    def counts(self) -> tuple[Floats, Floats]:
        """True and false positives at or above each distinct score, highest score first."""
        rows = len(self.order)
        true_pos = (self.positives - self.below[:-1])[::-1].astype(np.float64)
        seen = (rows - self.starts[:-1])[::-1].astype(np.float64)
        return true_pos, seen - true_pos

    def roc_curve(self) -> tuple[Floats, Floats]:
        """False and true positive rates, as ``sklearn.metrics.roc_curve`` (collinear points
        dropped, (0, 0) first)."""
        tps, fps = self.counts()
        if len(fps) > 2:
            keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
            fps, tps = fps[keep], tps[keep]
        tps, fps = np.r_[0, tps], np.r_[0, fps]
        return fps / fps[-1], tps / tps[-1]

    def precision_recall_curve(self) -> tuple[Floats, Floats]:
        """Precision and recall, as ``sklearn.metrics.precision_recall_curve``."""
        tps, fps = self.counts()
        seen = tps + fps
        precision = np.divide(tps, seen, out=np.zeros_like(tps), where=seen != 0)
        recall = tps / tps[-1]
        return np.r_[precision[::-1], 1], np.r_[recall[::-1], 0]

    def average_precision(self) -> float:
        """As ``sklearn.metrics.average_precision_score`` (no interpolation)."""
        precision, recall = self.precision_recall_curve()
        return float(max(0.0, -np.sum(np.diff(recall) * np.array(precision)[:-1])))


def ranked(hits: npt.ArrayLike, scores: npt.ArrayLike) -> Ranked:
    """``scores`` (one per row) sorted once; ``hits``: the rows of the positive class."""
    truth = np.asarray(hits, dtype=bool)
    values = np.ascontiguousarray(scores, dtype=np.float64)
    if truth.shape != values.shape or values.ndim != 1:
        raise ValueError(f"hits {truth.shape} and scores {values.shape} differ in shape")
    if not np.isfinite(values).all():
        raise ValueError("scores contain NaN or infinity")
    key = hashlib.blake2b(truth.tobytes() + values.tobytes(), digest_size=16).digest()
    with _lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.r_[np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]), len(values)]
    below = np.r_[0, np.cumsum(truth[order])][starts]
    found = Ranked(truth, values, order, starts, below)
    with _lock:
        _memo[key] = found
        while len(_memo) > MEMO:
            _memo.popitem(last=False)
    return found
