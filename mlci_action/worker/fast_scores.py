"""The vectorized scorers of the paired bootstrap: each metric on a whole chunk of resamples.

A chunk is a (resamples x rows) matrix of count weights (:mod:`mlci_action.worker.resampling`).
Every mean-type metric (accuracy, log loss, Brier, the regression errors, the per-class counts
behind precision, recall, F1 and balanced accuracy, the moments behind R² and explained
variance) is a ratio of weighted sums of per-row values: all scorers of a bootstrap register
their per-row columns in one :class:`Columns`, and each chunk is one matrix product
``weights @ columns``. ROC AUC, average precision and the median absolute error sort the rows
once and read cumulative weights in that order (:mod:`mlci_action.worker.ranked_scores`).

Each scorer returns the metric on each resample, NaN where undefined, and is checked against
scikit-learn on the explicitly resampled rows in the tests; None (no fast path for these
inputs) sends the caller to that loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlci_action.metrics import MetricSpec
from mlci_action.worker.ranked_scores import auc_scorer, average_precision_scorer, median_scorer

Array = npt.NDArray[Any]
Floats = npt.NDArray[np.float64]

_COUNTED = {"balanced_accuracy", "f1", "f1_macro", "f1_weighted"}
_COUNTED |= {"precision", "precision_macro", "recall", "recall_macro"}
PRODUCT_CELLS = 1 << 17
"""Weight cells converted per block of the chunk's product (1 MiB of float64: the L2 cache)."""
_ZERO = 1e-12
"""A variance below this share of the second moment is a constant target (rounding, not data)."""


@dataclass(frozen=True)
class Chunk:
    weights: Array
    """(resamples x rows) counts: row weights (uint8), or counts of categories of rows."""
    sums: Floats
    """(resamples x columns): the weighted sums of the registered per-row columns."""


Scorer = Callable[[Chunk], Floats]
"""A chunk -> the metric on each of its resamples (NaN where undefined)."""


class Columns:
    """The per-row values whose weighted sums the scorers read: one product per chunk.

    When every column is 0/1 (the total, and the indicators behind accuracy and the per-class
    counts), they are summed in float32: their sums are whole numbers below 2**24, so exact,
    and the same as in float64; otherwise all columns in one float64 product (one conversion
    of the weights, not two). ``drawn``: the most rows a resample draws (the rows, unless the
    weights are counts of categories of rows).
    """

    def __init__(self, rows: int, drawn: int | None = None) -> None:
        self._values: list[Floats] = []
        self._matrix: Array | None = None
        """(rows x columns): float32 when every column is 0/1, else float64."""
        self._rows = rows
        self._drawn = rows if drawn is None else drawn
        self.total = self.add(np.ones(rows))

    def add(self, values: npt.ArrayLike) -> int:
        """The column of these values (an identical column is shared, so that identical
        models get bit-identical sums)."""
        column = np.asarray(values, dtype=np.float64)
        for index, known in enumerate(self._values):
            if np.array_equal(known, column):
                return index
        self._values.append(column)
        self._matrix = None
        return len(self._values) - 1

    def freeze(self) -> None:
        """Build the product's matrices (before chunks are scored on several threads)."""
        if self._matrix is not None:
            return
        # a 0/1 column's weighted sum is at most the total weight, about rows (x 1.01)
        small = self._drawn <= 1 << 23
        exact = small and all(bool(np.isin(v, (0.0, 1.0)).all()) for v in self._values)
        self._matrix = np.column_stack(self._values).astype(np.float32 if exact else np.float64)

    def chunk(self, weights: Array) -> Chunk:
        """``weights``: (resamples x rows) counts."""
        self.freeze()
        assert self._matrix is not None
        return Chunk(weights, blocked_product(weights, self._matrix))


def blocked_product(weights: Array, matrix: Array) -> Floats:
    """``weights @ matrix`` in float64, the weights converted to the matrix's dtype
    :data:`PRODUCT_CELLS` cells at a time into one buffer that stays in the cache: one pass
    over the counts instead of writing and reading their full-size float copy. The blocks' sums
    add up in float64 (for float32 0/1 columns every partial sum is an exact whole number)."""
    resamples, rows = weights.shape
    width = max(1, min(rows, PRODUCT_CELLS // max(resamples, 1)))
    buffer = np.empty((resamples, width), dtype=matrix.dtype)
    sums = np.zeros((resamples, matrix.shape[1]))
    for start in range(0, rows, width):
        stop = min(start + width, rows)
        block = buffer[:, : stop - start]
        np.copyto(block, weights[:, start:stop], casting="unsafe")
        sums += block @ matrix[start:stop]
    return sums


def fast_scorer(
    spec: MetricSpec,
    columns: Columns,
    truth: Array,
    pred: Array,
    probs: Array | None,
    labels: Array | None,
    column: int | None,
) -> Scorer | None:
    """``column``: the positive class's index among the labels (binary metrics)."""
    if spec.task == "regression":
        return _regression_scorer(spec.name, columns, truth, pred)
    assert labels is not None
    if spec.name == "accuracy":
        return _mean_scorer(columns, truth == pred)
    if spec.name in _COUNTED:
        return _count_scorer(spec.name, columns, truth, pred, labels, column)
    if probs is None or probs.shape != (len(truth), len(labels)):
        return None
    onehot = truth[:, None] == labels[None, :]
    if not onehot.any(axis=1).all():
        return None  # a label outside the classes: scikit-learn explains it better
    if spec.name == "log_loss":
        eps = np.finfo(probs.dtype).eps
        return _mean_scorer(columns, -np.log(np.clip(probs, eps, 1 - eps)[onehot]))
    if spec.name == "roc_auc_ovr" and len(labels) > 2:
        return auc_scorer(onehot, probs)
    if len(labels) != 2:
        return None
    k = 1 if column is None else column  # roc_auc_ovr of two classes: either column
    if spec.name == "brier_score":
        return _mean_scorer(columns, (onehot[:, k] - probs[:, k]) ** 2)
    if spec.name == "average_precision":
        return average_precision_scorer(onehot[:, k], probs[:, k])
    return auc_scorer(onehot[:, k : k + 1], probs[:, k : k + 1])


def _mean_scorer(columns: Columns, per_row: npt.ArrayLike) -> Scorer:
    total, value = columns.total, columns.add(per_row)
    return lambda chunk: _divide(chunk.sums[:, value], chunk.sums[:, total])


def _divide(numerator: Floats, denominator: Floats) -> Floats:
    """numerator / denominator, NaN where the denominator is 0 (an empty Poisson resample)."""
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _regression_scorer(name: str, columns: Columns, truth: Array, pred: Array) -> Scorer | None:
    try:
        actual, predicted = truth.astype(float), pred.astype(float)
    except (TypeError, ValueError):
        return None
    if actual.ndim != 1 or predicted.shape != actual.shape:
        return None
    error = actual - predicted
    if name == "mae":
        return _mean_scorer(columns, np.abs(error))
    if name == "mse":
        return _mean_scorer(columns, error**2)
    if name == "rmse":
        mse = _mean_scorer(columns, error**2)
        return lambda chunk: np.sqrt(mse(chunk))
    if name == "mape":
        eps = np.finfo(np.float64).eps
        return _mean_scorer(columns, np.abs(error) / np.maximum(np.abs(actual), eps))
    if name == "median_ae":
        return median_scorer(np.abs(error))
    spread = _spread(columns, actual)
    if name == "r2":
        squared = columns.add(error**2)
        return lambda chunk: _one_minus_ratio(chunk.sums[:, squared], spread(chunk))
    residual = _spread(columns, error)
    return lambda chunk: _one_minus_ratio(residual(chunk), spread(chunk))


def _spread(columns: Columns, values: Floats) -> Scorer:
    """Sum of squared deviations from the weighted mean, from moments about the overall mean
    (so that the subtraction loses nothing); a share below _ZERO of the moment is 0."""
    centred = values - values.mean()
    first, second, total = columns.add(centred), columns.add(centred**2), columns.total

    def spread(chunk: Chunk) -> Floats:
        weight, moment = chunk.sums[:, total], chunk.sums[:, second]
        spread = moment - _divide(chunk.sums[:, first] ** 2, weight)
        spread[np.abs(spread) <= _ZERO * moment] = 0.0
        return spread

    return spread


def _one_minus_ratio(numerator: Floats, denominator: Floats) -> Floats:
    """1 - num/den, with scikit-learn's force_finite for a constant target (1 if exact, else 0)."""
    values = np.where(numerator == 0, 1.0, 0.0)
    values[np.isnan(denominator)] = np.nan
    defined = denominator > 0
    values[defined] = 1 - numerator[defined] / denominator[defined]
    return values


def _count_scorer(
    name: str,
    columns: Columns,
    truth: Array,
    pred: Array,
    labels: Array,
    column: int | None,
) -> Scorer | None:
    try:
        present, codes = np.unique(np.concatenate([truth, pred]), return_inverse=True)
    except TypeError:
        return None
    positive: int | None = None
    if column is not None:
        known = labels.tolist()
        if len(known) != 2 or known[column] not in present.tolist():
            return None
        if not set(present.tolist()) <= set(known):
            return None
        positive = present.tolist().index(known[column])
    rows = len(truth)
    true_codes, pred_codes = codes[:rows], codes[rows:]
    actual, guessed, correct = [], [], []
    scored = range(len(present)) if positive is None else [positive]
    if positive is not None:  # a binary metric reads the positive class's counts only
        positive = 0
    for code in scored:
        actual.append(columns.add(true_codes == code))
        guessed.append(columns.add(pred_codes == code))
        correct.append(columns.add((true_codes == code) & (pred_codes == code)))

    def score(chunk: Chunk) -> Floats:
        sums = chunk.sums
        return _from_counts(name, sums[:, correct], sums[:, actual], sums[:, guessed], positive)

    return score


def _ratio(numerator: Floats, denominator: Floats) -> Floats:
    """numerator / denominator, 0 where the denominator is 0 (zero_division=0)."""
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _from_counts(
    name: str, correct: Floats, actual: Floats, guessed: Floats, positive: int | None
) -> Floats:
    if name == "balanced_accuracy":  # mean recall over the classes present in y_true
        return _divide(_ratio(correct, actual).sum(axis=1), (actual > 0).sum(axis=1))
    base = name.partition("_")[0]
    if base == "precision":
        per_class = _ratio(correct, guessed)
    elif base == "recall":
        per_class = _ratio(correct, actual)
    else:
        per_class = _ratio(2 * correct, actual + guessed)
    if positive is not None:
        empty = actual.sum(axis=1) == 0
        values = per_class[:, positive]
        values[empty] = np.nan  # an empty (Poisson) resample
        return values
    if name.endswith("_weighted"):
        return _divide((per_class * actual).sum(axis=1), actual.sum(axis=1))
    seen = (actual + guessed) > 0  # scikit-learn averages over the labels in y_true or y_pred
    return _divide((per_class * seen).sum(axis=1), seen.sum(axis=1).astype(float))
