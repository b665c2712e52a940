"""The vectorized scorers of the paired bootstrap: each metric over a whole index matrix.

A scorer takes the resampled row indices (resamples x rows) and returns the metric on each
resample, NaN where undefined: means and medians of per-row values, per-class counts, a
weighted Mann-Whitney U for ROC AUC, a weighted step-wise sum for average precision. Each is
checked against the scikit-learn loop of :mod:`mlci_action.worker.scoring` in the tests;
None (no fast path for these inputs) sends the caller to that loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from mlci_action.metrics import MetricSpec

Array = npt.NDArray[Any]
Floats = npt.NDArray[np.float64]
Scorer = Callable[[Array], Floats]
"""Index matrix (resamples x rows) -> the metric on each resample (NaN where undefined)."""

_COUNTED = {"balanced_accuracy", "f1", "f1_macro", "f1_weighted"}
_COUNTED |= {"precision", "precision_macro", "recall", "recall_macro"}


def fast_scorer(
    spec: MetricSpec,
    truth: Array,
    pred: Array,
    probs: Array | None,
    labels: Array | None,
    column: int | None,
) -> Scorer | None:
    """``column``: the positive class's index among the labels (binary metrics)."""
    if spec.task == "regression":
        return _regression_scorer(spec.name, truth, pred)
    assert labels is not None
    if spec.name == "accuracy":
        return _mean_scorer((truth == pred).astype(float))
    if spec.name in _COUNTED:
        return _count_scorer(spec.name, truth, pred, labels, column)
    if probs is None or probs.shape != (len(truth), len(labels)):
        return None
    onehot = truth[:, None] == labels[None, :]
    if not onehot.any(axis=1).all():
        return None  # a label outside the classes: scikit-learn explains it better
    if spec.name == "log_loss":
        eps = np.finfo(probs.dtype).eps
        return _mean_scorer(-np.log(np.clip(probs, eps, 1 - eps)[onehot]))
    if spec.name == "roc_auc_ovr" and len(labels) > 2:
        return _auc_scorer(onehot, probs)
    if len(labels) != 2:
        return None
    k = 1 if column is None else column  # roc_auc_ovr of two classes: either column
    if spec.name == "brier_score":
        return _mean_scorer((onehot[:, k] - probs[:, k]) ** 2)
    if spec.name == "average_precision":
        return _ap_scorer(onehot[:, k], probs[:, k])
    return _auc_scorer(onehot[:, k : k + 1], probs[:, k : k + 1])


def _mean_scorer(per_row: Floats) -> Scorer:
    return lambda idx: per_row[idx].mean(axis=1)


def _regression_scorer(name: str, truth: Array, pred: Array) -> Scorer | None:
    try:
        actual, predicted = truth.astype(float), pred.astype(float)
    except (TypeError, ValueError):
        return None
    if actual.ndim != 1 or predicted.shape != actual.shape:
        return None
    error = actual - predicted
    if name == "mae":
        return _mean_scorer(np.abs(error))
    if name == "mse":
        return _mean_scorer(error**2)
    if name == "rmse":
        return lambda idx: np.sqrt((error**2)[idx].mean(axis=1))
    if name == "mape":
        eps = np.finfo(np.float64).eps
        return _mean_scorer(np.abs(error) / np.maximum(np.abs(actual), eps))
    if name == "median_ae":
        return lambda idx: np.median(np.abs(error)[idx], axis=1)

    def explained(idx: Array) -> Floats:
        values, errors = actual[idx], error[idx]
        spread = ((values - values.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        if name == "r2":
            return _one_minus_ratio((errors**2).sum(axis=1), spread)
        residual = ((errors - errors.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        return _one_minus_ratio(residual, spread)

    return explained


def _one_minus_ratio(numerator: Floats, denominator: Floats) -> Floats:
    """1 - num/den, with scikit-learn's force_finite for a constant target (1 if exact, else 0)."""
    values = np.where(numerator == 0, 1.0, 0.0)
    defined = denominator != 0
    values[defined] = 1 - numerator[defined] / denominator[defined]
    return values


def _count_scorer(
    name: str, truth: Array, pred: Array, labels: Array, column: int | None
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
    rows, width = len(truth), len(present)
    true_codes, pred_codes = codes[:rows], codes[rows:]
    hits = (true_codes == pred_codes).astype(float)

    def score(idx: Array) -> Floats:
        cells = len(idx) * width
        offset = (np.arange(len(idx)) * width)[:, None]
        true_keys = (offset + true_codes[idx]).ravel()
        pred_keys = (offset + pred_codes[idx]).ravel()
        actual = np.bincount(true_keys, minlength=cells).astype(np.float64)
        guessed = np.bincount(pred_keys, minlength=cells).astype(np.float64)
        correct = np.bincount(true_keys, hits[idx].ravel(), cells).astype(np.float64)
        shape = (len(idx), width)
        return _from_counts(
            name, correct.reshape(shape), actual.reshape(shape), guessed.reshape(shape), positive
        )

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
        return _ratio(correct, actual).sum(axis=1) / (actual > 0).sum(axis=1)
    base = name.partition("_")[0]
    if base == "precision":
        per_class = _ratio(correct, guessed)
    elif base == "recall":
        per_class = _ratio(correct, actual)
    else:
        per_class = _ratio(2 * correct, actual + guessed)
    if positive is not None:
        return per_class[:, positive]
    if name.endswith("_weighted"):
        return (per_class * actual).sum(axis=1) / actual.sum(axis=1)
    seen = (actual + guessed) > 0  # scikit-learn averages over the labels in y_true or y_pred
    return (per_class * seen).sum(axis=1) / seen.sum(axis=1)


def _auc_scorer(onehot: Array, probs: Floats) -> Scorer:
    """ROC AUC (one column: binary; several: one-vs-rest macro) as a weighted Mann-Whitney U."""
    rows = len(probs)
    columns = []
    for k in range(onehot.shape[1]):
        order = np.argsort(probs[:, k], kind="stable")
        ranked = probs[order, k]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        columns.append((order, onehot[order, k], starts))

    def score(idx: Array) -> Floats:
        offset = (np.arange(len(idx)) * rows)[:, None]
        counts = np.bincount((offset + idx).ravel(), minlength=len(idx) * rows)
        counts = counts.reshape(-1, rows).astype(float)
        total = np.zeros(len(idx))
        for order, positive, starts in columns:
            weights = counts[:, order]
            pos = np.add.reduceat(weights * positive, starts, axis=1)
            neg = np.add.reduceat(weights * ~positive, starts, axis=1)
            below = np.cumsum(neg, axis=1) - neg
            pairs = pos.sum(axis=1) * neg.sum(axis=1)
            wins = (pos * (below + 0.5 * neg)).sum(axis=1)
            total += np.divide(wins, pairs, out=np.full(len(idx), np.nan), where=pairs > 0)
        return total / len(columns)

    return score


def _ap_scorer(hits: Array, scores: Floats) -> Scorer:
    """Average precision (scikit-learn's step-wise sum, no interpolation) on weighted rows.

    Thresholds run over the distinct scores, highest first; each adds the share of all
    positives it reaches times the precision at that threshold. A resample without positives
    scores 0, as scikit-learn does (with a warning)."""
    rows = len(scores)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    positive = hits[order].astype(float)

    def score(idx: Array) -> Floats:
        offset = (np.arange(len(idx)) * rows)[:, None]
        counts = np.bincount((offset + idx).ravel(), minlength=len(idx) * rows)
        weights = counts.reshape(-1, rows).astype(float)[:, order]
        pos = np.add.reduceat(weights * positive, starts, axis=1)
        seen = np.add.reduceat(weights, starts, axis=1)
        precision = _ratio(np.cumsum(pos, axis=1), np.cumsum(seen, axis=1))
        return _ratio((pos * precision).sum(axis=1), pos.sum(axis=1))

    return score
