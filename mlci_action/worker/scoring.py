"""Metric values, and the paired bootstrap of the candidate-minus-baseline difference.

:func:`metric_values` computes every catalog metric with scikit-learn.
:func:`paired_bootstrap_all` scores every metric of both models on the same resamples, drawn
once per chunk as count weights (:mod:`mlci_action.worker.resampling`). scikit-learn on each
resample would cost about 1 ms per resample, model and metric; so for every catalog metric
there is a vectorized path over a whole chunk (:mod:`mlci_action.worker.fast_scores`), checked
against scikit-learn on the explicitly resampled rows in the tests. That loop stays as the
fallback.

Binary metrics score the positive class of :func:`mlci_action.worker.positive.resolve_positive`
(``positive``: the configured one, or None to find the obvious one).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn import metrics as skm

from mlci_action.errors import StageFailure
from mlci_action.metrics import CATALOG, MetricSpec
from mlci_action.stats.ranked import ranked
from mlci_action.worker.categories import Categories, by_category, categorize
from mlci_action.worker.fast_scores import Array, Chunk, Columns, Floats, Scorer, fast_scorer
from mlci_action.worker.parallel import in_parallel
from mlci_action.worker.positive import Label, resolve_positive
from mlci_action.worker.resampling import (
    Method,
    chunk_ranges,
    draw,
    draw_parts,
    resolve_method,
)

Interval = tuple[float | None, float | None]


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
        return _log_loss(truth, probs, labels)
    if name == "roc_auc_ovr" and len(labels) > 2:
        return float(skm.roc_auc_score(truth, probs, multi_class="ovr", labels=labels))
    # roc_auc_ovr of two classes: the same for either class (no positive class needed)
    column = 1 if name == "roc_auc_ovr" else positive_column(spec, labels, positive)
    hits, scores = truth == labels[column], probs[:, column]
    if name == "brier_score":
        return float(skm.brier_score_loss(hits.astype(int), scores))
    if hits.all() or not hits.any() or not np.isfinite(scores).all():  # scikit-learn says why
        if name == "average_precision":
            return float(skm.average_precision_score(hits, scores))
        return float(skm.roc_auc_score(hits, scores))
    # from the column's one sort, shared with DeLong's test and the curves (as scikit-learn's)
    sorted_once = ranked(hits, scores)
    return sorted_once.average_precision() if name == "average_precision" else sorted_once.auc()


def _log_loss(truth: Array, probs: Array, labels: Array) -> float:
    """scikit-learn's log loss; for probabilities in [0, 1] and every true label among the
    labels, computed directly (the same per-row terms and mean: no one-hot encoding, no
    label search), else by scikit-learn, which explains what is wrong."""
    onehot = truth[:, None] == labels[None, :]
    usable = len(truth) > 0 and probs.dtype == np.float64 and probs.shape == onehot.shape
    if not (usable and onehot.sum(axis=1).min() == 1 and probs.min() >= 0 and probs.max() <= 1):
        return float(skm.log_loss(truth, probs, labels=labels))
    eps = np.finfo(probs.dtype).eps
    return float(np.mean(-np.log(np.clip(probs, eps, 1 - eps)[onehot])))


# --- the paired bootstrap ------------------------------------------------------------------


def bootstrap_deltas_all(
    metrics: Sequence[str],
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
    method: str = "auto",
    fast: bool = True,
    categories: bool = True,
    partition: Array | None = None,
) -> dict[str, Floats]:
    """metric(candidate) - metric(baseline) on each resample, for every metric; NaN where
    undefined. ``partition``: each row's partition index (the rows in file order) for a
    partitioned test set, bootstrapped with Poisson weights drawn per partition
    (:func:`mlci_action.worker.resampling.draw_parts`), whatever ``method`` says. Both models are scored on the same resamples (paired), and so is every metric
    scored on row weights; the label metrics (accuracy, precision, recall, F1, balanced
    accuracy) share resamples drawn per category of row (:mod:`mlci_action.worker.categories`;
    ``categories=False``: on the row weights too)."""
    truth, pred_c, pred_b = np.asarray(y_true), np.asarray(pred_c), np.asarray(pred_b)
    names = list(dict.fromkeys(metrics))
    chosen = "poisson" if partition is not None else resolve_method(method, len(truth))
    sizes = None if partition is None else np.bincount(np.asarray(partition)).tolist()
    found: dict[str, Floats] = {}
    grouped = (
        categorize(truth, pred_c, pred_b, partition=partition)
        if categories and len(truth)
        else None
    )
    if grouped is not None:
        counted = [name for name in names if by_category(_spec(name))]
        if counted:
            sides = (truth, pred_c, pred_b)
            draws = (resamples, seed, chosen)
            found.update(_per_category(counted, grouped, sides, classes, positive, draws, fast))
        names = [name for name in names if name not in found]
    columns = Columns(len(truth))
    pairs = {
        name: (
            _scorer(name, columns, truth, pred_c, proba_c, classes, positive, fast),
            _scorer(name, columns, truth, pred_b, proba_b, classes, positive, fast),
        )
        for name in names
    }
    columns.freeze()

    def score(resamples: range) -> dict[str, Floats]:
        weights = (
            draw(len(truth), resamples, seed, chosen)
            if sizes is None
            else draw_parts(sizes, resamples, seed)
        )
        chunk = columns.chunk(weights)
        return {
            name: candidate(chunk) - baseline(chunk)
            for name, (candidate, baseline) in pairs.items()
        }

    parts = in_parallel(score, chunk_ranges(len(truth), resamples)) if pairs else []
    for name in pairs:
        found[name] = np.concatenate([part[name] for part in parts]) if parts else np.empty(0)
    return {name: found[name] for name in dict.fromkeys(metrics)}


def _per_category(
    names: list[str],
    grouped: Categories,
    sides: tuple[Array, Array, Array],
    classes: npt.ArrayLike | None,
    positive: Label | None,
    draws: tuple[int, int, Method],
    fast: bool,
) -> dict[str, Floats]:
    """The label metrics' deltas on each resample's counts of rows per category; each
    category's first row (of ``sides``: truth, candidate, baseline) stands for its rows."""
    rows = grouped.rows
    truth, pred_c, pred_b = sides
    columns = Columns(len(rows), drawn=grouped.total)
    pairs = {
        name: [
            _scorer(name, columns, truth[rows], pred[rows], None, classes, positive, fast)
            for pred in (pred_c, pred_b)
        ]
        for name in names
    }
    chunk = columns.chunk(grouped.counts(*draws))
    return {
        name: candidate(chunk) - baseline(chunk) for name, (candidate, baseline) in pairs.items()
    }


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
    method: str = "auto",
    fast: bool = True,
    categories: bool = True,
) -> Floats:
    """One metric's deltas (see :func:`bootstrap_deltas_all`)."""
    found = bootstrap_deltas_all(
        [name],
        y_true,
        pred_c,
        proba_c,
        pred_b,
        proba_b,
        resamples,
        seed,
        classes,
        positive=positive,
        method=method,
        fast=fast,
        categories=categories,
    )
    return found[name]


def paired_bootstrap_all(
    metrics: Sequence[str],
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
    method: str = "auto",
) -> dict[str, Interval]:
    """Each metric's percentile interval of the delta; (None, None) when no resample defines
    the metric."""
    deltas = bootstrap_deltas_all(
        metrics,
        y_true,
        pred_c,
        proba_c,
        pred_b,
        proba_b,
        resamples,
        seed,
        classes,
        positive=positive,
        method=method,
    )
    return {name: _interval(found, confidence) for name, found in deltas.items()}


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
    method: str = "auto",
) -> Interval:
    """One metric's interval (see :func:`paired_bootstrap_all`)."""
    found = paired_bootstrap_all(
        [name],
        y_true,
        pred_c,
        proba_c,
        pred_b,
        proba_b,
        resamples,
        confidence,
        seed,
        classes,
        positive=positive,
        method=method,
    )
    return found[name]


def _interval(deltas: Floats, confidence: float) -> Interval:
    deltas = deltas[np.isfinite(deltas)]
    if deltas.size == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(deltas, [tail, 100 - tail])
    return float(low), float(high)


def _scorer(
    name: str,
    columns: Columns,
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
    scorer = fast_scorer(spec, columns, truth, pred, probs, labels, column) if fast else None
    return scorer or loop_scorer(name, truth, pred, probs, labels, positive)


def loop_scorer(
    name: str,
    truth: Array,
    pred: Array,
    probs: Array | None,
    labels: Array | None,
    positive: Label | None,
) -> Scorer:
    """scikit-learn on the explicitly resampled rows (each row repeated by its weight)."""
    rows = np.arange(len(truth))

    def score(chunk: Chunk) -> Floats:
        values = np.full(len(chunk.weights), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for row, weights in enumerate(chunk.weights):
                take = np.repeat(rows, weights)
                part = None if probs is None else probs[take]
                # undefined on this resample (e.g. one class only): stays NaN, dropped later
                with contextlib.suppress(ValueError, ZeroDivisionError):
                    values[row] = metric_values(
                        name, truth[take], pred[take], part, labels, positive
                    )
        return values

    return score
