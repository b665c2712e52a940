"""Metric values, and the paired bootstrap of the candidate-minus-baseline difference.

:func:`metric_values` computes every catalog metric with scikit-learn. :func:`paired_bootstrap`
scores both models on the same resampled rows. It would call scikit-learn once per resample and
model, about 1 ms each; so for every catalog metric there is a vectorized path over the whole
index matrix (means and medians of per-row values, per-class counts, weighted Mann-Whitney AUC,
weighted step-wise average precision), checked against the scikit-learn loop in the tests. The
loop stays as the fallback.

Binary metrics score the positive class of :func:`mlci_action.worker.positive.resolve_positive`
(``positive``: the configured one, or None to find the obvious one).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn import metrics as skm

from mlci_action.errors import StageFailure
from mlci_action.metrics import CATALOG, MetricSpec
from mlci_action.worker.positive import Label, resolve_positive

Array = npt.NDArray[Any]
Floats = npt.NDArray[np.float64]
Scorer = Callable[[Array], Floats]
"""Index matrix (resamples x rows) -> the metric on each resample (NaN where undefined)."""

_CHUNK_CELLS = 1 << 21  # index-matrix cells per chunk: bounds memory on large test files
_COUNTED = {"balanced_accuracy", "f1", "f1_macro", "f1_weighted"}
_COUNTED |= {"precision", "precision_macro", "recall", "recall_macro"}


def metric_values(
    name: str,
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    proba: npt.ArrayLike | None,
    classes: npt.ArrayLike | None,
    positive: Label | None = None,
) -> float:
    """One metric of one model. ``proba`` columns follow ``classes`` (the model's classes_)."""
    spec = _spec(name)
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    if spec.task == "regression":
        return _regression_value(name, truth, pred)
    labels = _labels(truth, pred, classes)
    if spec.input == "label":
        return _label_value(spec, truth, pred, labels, positive)
    if proba is None:
        raise StageFailure(f"metric {name!r} needs predicted probabilities (predict_proba)")
    probs = np.asarray(proba, dtype=float)
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise StageFailure(
            f"metric {name!r}: predicted probabilities have shape {probs.shape}, "
            f"expected one column per class ({len(labels)})"
        )
    return _proba_value(spec, truth, probs, labels, positive)


def _spec(name: str) -> MetricSpec:
    spec = CATALOG.get(name)
    if spec is None:
        raise StageFailure(f"unknown metric {name!r}", hint=f"known: {', '.join(CATALOG)}")
    return spec


def _labels(y_true: Array, y_pred: Array, classes: npt.ArrayLike | None) -> Array:
    if classes is not None:
        return np.asarray(classes)
    return np.unique(np.concatenate([y_true, y_pred]))


def positive_column(spec: MetricSpec, labels: Array, positive: Label | None) -> int:
    """The index of the positive class among the (two) labels."""
    if len(labels) != 2:
        shown = ", ".join(map(str, labels[:10]))
        raise StageFailure(
            f"metric {spec.name!r} is for binary classification, but there are "
            f"{len(labels)} classes ({shown})",
            hint=spec.binary,
        )
    found = resolve_positive(labels, positive)
    return next(k for k, label in enumerate(labels.tolist()) if label == found)


def _regression_value(name: str, truth: Array, pred: Array) -> float:
    if name == "mae":
        return float(skm.mean_absolute_error(truth, pred))
    if name == "mse":
        return float(skm.mean_squared_error(truth, pred))
    if name == "rmse":
        return math.sqrt(float(skm.mean_squared_error(truth, pred)))
    if name == "r2":
        return float(skm.r2_score(truth, pred))
    if name == "mape":
        return float(skm.mean_absolute_percentage_error(truth, pred))
    if name == "median_ae":
        return float(skm.median_absolute_error(truth, pred))
    return float(skm.explained_variance_score(truth, pred))


def _label_value(
    spec: MetricSpec, truth: Array, pred: Array, labels: Array, positive: Label | None
) -> float:
    name = spec.name
    if name == "accuracy":
        return float(skm.accuracy_score(truth, pred))
    if name == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(truth, pred))
    function = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}
    base, _, average = name.partition("_")
    if not average:
        label = labels[positive_column(spec, labels, positive)]
        return float(function[base](truth, pred, pos_label=label, zero_division=0))
    return float(function[base](truth, pred, average=average, zero_division=0))


def _proba_value(
    spec: MetricSpec, truth: Array, probs: Array, labels: Array, positive: Label | None
) -> float:
    name = spec.name
    if name == "log_loss":
        return float(skm.log_loss(truth, probs, labels=labels))
    if name == "roc_auc_ovr" and len(labels) > 2:
        return float(skm.roc_auc_score(truth, probs, multi_class="ovr", labels=labels))
    # roc_auc_ovr of two classes: the same for either class (no positive class needed)
    column = 1 if name == "roc_auc_ovr" else positive_column(spec, labels, positive)
    hits, scores = truth == labels[column], probs[:, column]
    if name == "brier_score":
        return float(skm.brier_score_loss(hits.astype(int), scores))
    if name == "average_precision":
        return float(skm.average_precision_score(hits, scores))
    return float(skm.roc_auc_score(hits, scores))


# --- the paired bootstrap ------------------------------------------------------------------


def bootstrap_indices(rows: int, resamples: int, seed: int) -> Iterator[Array]:
    """The resampled row indices, in chunks; the same seed gives the same indices."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(rows, 1))
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        yield rng.integers(0, rows, size=(size, rows))
        done += size


def bootstrap_deltas(
    name: str,
    y_true: npt.ArrayLike,
    pred_c: npt.ArrayLike,
    proba_c: npt.ArrayLike | None,
    pred_b: npt.ArrayLike,
    proba_b: npt.ArrayLike | None,
    resamples: int,
    seed: int,
    classes: npt.ArrayLike | None = None,
    *,
    positive: Label | None = None,
    fast: bool = True,
) -> Floats:
    """metric(candidate) - metric(baseline) on each resample; NaN where undefined."""
    truth = np.asarray(y_true)
    candidate = _scorer(name, truth, np.asarray(pred_c), proba_c, classes, positive, fast)
    baseline = _scorer(name, truth, np.asarray(pred_b), proba_b, classes, positive, fast)
    parts = [
        candidate(idx) - baseline(idx) for idx in bootstrap_indices(len(truth), resamples, seed)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def paired_bootstrap(
    name: str,
    y_true: npt.ArrayLike,
    pred_c: npt.ArrayLike,
    proba_c: npt.ArrayLike | None,
    pred_b: npt.ArrayLike,
    proba_b: npt.ArrayLike | None,
    resamples: int,
    confidence: float,
    seed: int,
    classes: npt.ArrayLike | None = None,
    *,
    positive: Label | None = None,
) -> tuple[float | None, float | None]:
    """Percentile interval of the delta; (None, None) when no resample defines the metric."""
    deltas = bootstrap_deltas(
        name, y_true, pred_c, proba_c, pred_b, proba_b, resamples, seed, classes, positive=positive
    )
    deltas = deltas[np.isfinite(deltas)]
    if deltas.size == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(deltas, [tail, 100 - tail])
    return float(low), float(high)


def _scorer(
    name: str,
    truth: Array,
    pred: Array,
    proba: npt.ArrayLike | None,
    classes: npt.ArrayLike | None,
    positive: Label | None,
    fast: bool,
) -> Scorer:
    spec = _spec(name)
    labels = None if spec.task == "regression" else _labels(truth, pred, classes)
    probs = None if proba is None else np.asarray(proba, dtype=float)
    column = None
    if labels is not None and spec.needs_positive:
        column = positive_column(spec, labels, positive)  # fails once, before any resample
        positive = labels.tolist()[column]
    scorer = _fast_scorer(spec, truth, pred, probs, labels, column) if fast else None
    return scorer or _loop_scorer(name, truth, pred, probs, labels, positive)


def _loop_scorer(
    name: str,
    truth: Array,
    pred: Array,
    probs: Array | None,
    labels: Array | None,
    positive: Label | None,
) -> Scorer:
    def score(idx: Array) -> Floats:
        values = np.full(len(idx), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for row, take in enumerate(idx):
                part = None if probs is None else probs[take]
                # undefined on this resample (e.g. one class only): stays NaN, dropped later
                with contextlib.suppress(ValueError, ZeroDivisionError):
                    values[row] = metric_values(
                        name, truth[take], pred[take], part, labels, positive
                    )
        return values

    return score


def _fast_scorer(
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
