"""The data behind the report's charts, from the test-set predictions of both models.

Classification: ROC and precision-recall curves of the positive class (binary tasks with
probabilities), a reliability curve in 10 bins, the confusion matrix of each model and, for
more than two classes, precision, recall and F1 per class. Regression: predicted against actual
(means in 10 bins of the actual value), the residuals' histogram, and the mean absolute error
in each decile of the target.

The ROC and precision-recall curves read each model's scores sorted once
(:func:`mlci_action.stats.ranked.ranked`), the same sort as DeLong's test and the point values.
Every curve is down-sampled to fixed x positions shared by both models (a false-positive-rate
grid for ROC, a recall grid for precision-recall, bins elsewhere): at most ~25 points, so a
Mermaid chart stays readable and the two lines are compared at the same places.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn import metrics as skm

from mlci_action.record import ClassMetrics, ConfusionMatrix, Curve, Curves, Label
from mlci_action.stats.ranked import ranked

Array = npt.NDArray[Any]
GRID = np.linspace(0.0, 1.0, 21)
"""The x positions of the ROC (false positive rate) and precision-recall (recall) curves."""
BINS = 10
MAX_MATRIX = 12
"""Classes in the confusion matrix; the rarer ones are counted together as ``other``."""
MAX_CLASSES = 30
"""Rows of the per-class table."""
HISTOGRAM_BINS = 15


def classification_curves(
    truth: Array,
    labels: Sequence[Array],
    probas: Sequence[Array | None],
    classes: Array | None,
    positive: Label | None,
) -> Curves:
    """``labels``/``probas``: candidate first, then the baseline if there is one; the
    probability columns follow ``classes``."""
    order = _by_support(truth, labels[0])
    charts: list[Curve] = []
    column = _positive_column(classes, positive)
    if column is not None and len(order) <= 2 and all(p is not None for p in probas):
        hits = truth == positive
        scores = [np.asarray(p)[:, column] for p in probas if p is not None]
        if hits.any() and not hits.all():
            named = f" (positive class {positive})"
            charts = [
                chart.model_copy(update={"title": chart.title + named})
                for chart in (
                    _roc(hits, scores),
                    _precision_recall(hits, scores),
                    _calibration(hits, scores),
                )
            ]
    per_class: list[ClassMetrics] = []
    if len(order) > 2:
        per_class = [_class_metrics(truth, labels, label) for label in order[:MAX_CLASSES]]
    return Curves(
        charts=charts,
        confusion=_confusion(truth, labels, order),
        per_class=per_class,
        classes_omitted=max(0, len(order) - MAX_CLASSES) if len(order) > 2 else 0,
    )


def regression_curves(truth: Array, predictions: Sequence[Array]) -> Curves:
    actual = np.asarray(truth, dtype=float)
    preds = [np.asarray(p, dtype=float) for p in predictions]
    keep = np.isfinite(actual) & np.logical_and.reduce([np.isfinite(p) for p in preds])
    actual, preds = actual[keep], [p[keep] for p in preds]
    if len(actual) < 2:
        return Curves()
    return Curves(
        charts=[
            _predicted_vs_actual(actual, preds),
            _residuals(actual, preds),
            _error_by_decile(actual, preds),
        ]
    )


def _curve(
    kind: Any, title: str, x_label: str, y_label: str, x: Array, ys: list[Array], **more: Any
) -> Curve:
    lines = [_rounded(y) for y in ys]
    return Curve(
        kind=kind,
        title=title,
        x_label=x_label,
        y_label=y_label,
        x=_rounded(x),
        candidate=lines[0],
        baseline=lines[1] if len(lines) > 1 else None,
        **more,
    )


def _roc(hits: Array, scores: list[Array]) -> Curve:
    lines, areas = [], []
    for score in scores:
        sorted_once = ranked(hits, score)
        fpr, tpr = sorted_once.roc_curve()
        lines.append(np.interp(GRID, fpr, tpr))
        areas.append(sorted_once.auc())
    return _curve(
        "roc",
        "ROC curve",
        "false positive rate",
        "true positive rate",
        GRID,
        lines,
        reference=_rounded(GRID),
        reference_name="chance",
        **_areas(areas),
    )


def _precision_recall(hits: Array, scores: list[Array]) -> Curve:
    lines, areas = [], []
    for score in scores:
        sorted_once = ranked(hits, score)
        precision, recall = sorted_once.precision_recall_curve()
        # interpolated precision: the best precision at this recall or more (what some
        # threshold achieves); never rising with recall
        lines.append([float(precision[recall >= r].max()) for r in GRID])
        areas.append(sorted_once.average_precision())
    rate = float(hits.mean())
    return _curve(
        "precision_recall",
        "Precision-recall curve",
        "recall",
        "precision",
        GRID,
        [np.asarray(line) for line in lines],
        reference=[round(rate, 4)] * len(GRID),
        reference_name="chance (positive rate)",
        **_areas(areas),
    )


def _calibration(hits: Array, scores: list[Array]) -> Curve:
    edges = np.linspace(0.0, 1.0, BINS + 1)
    bins = [np.clip(np.digitize(score, edges[1:-1]), 0, BINS - 1) for score in scores]
    # bins empty for either model have no observed rate: left out of both lines
    filled = [b for b in range(BINS) if all((side == b).any() for side in bins)]
    centers = (edges[:-1] + edges[1:]) / 2
    lines = [np.array([hits[side == b].mean() for b in filled]) for side in bins]
    return _curve(
        "calibration",
        "Calibration (reliability)",
        "predicted probability (bin centre)",
        "observed positive rate",
        centers[filled],
        lines,
        reference=_rounded(centers[filled]),
        reference_name="perfect calibration",
    )


def _predicted_vs_actual(actual: Array, preds: list[Array]) -> Curve:
    groups = _quantile_bins(actual)
    x = np.array([actual[g].mean() for g in groups])
    lines = [np.array([p[g].mean() for g in groups]) for p in preds]
    return _curve(
        "predicted_vs_actual",
        "Predicted vs actual (means in bins of the actual value)",
        "actual (bin mean)",
        "predicted (bin mean)",
        x,
        lines,
        reference=_rounded(x),
        reference_name="predicted = actual",
    )


def _residuals(actual: Array, preds: list[Array]) -> Curve:
    residuals = [p - actual for p in preds]
    pooled = np.concatenate(residuals)
    low, high = np.percentile(pooled, [1, 99])
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    counts = [np.histogram(np.clip(r, low, high), edges)[0].astype(float) for r in residuals]
    return _curve(
        "residuals",
        "Residuals (predicted - actual), 1st-99th percentile",
        "residual (bin centre)",
        "rows",
        (edges[:-1] + edges[1:]) / 2,
        counts,
    )


def _error_by_decile(actual: Array, preds: list[Array]) -> Curve:
    groups = _quantile_bins(actual)
    lines = [np.array([np.abs(p[g] - actual[g]).mean() for g in groups]) for p in preds]
    return _curve(
        "error_by_decile",
        "Mean absolute error by decile of the target",
        "decile of the target",
        "MAE",
        np.arange(1, len(groups) + 1, dtype=float),
        lines,
    )


def _quantile_bins(values: Array) -> list[Array]:
    """Row indices of up to 10 bins of equal size by value (ties kept together)."""
    ranks = pd.Series(values).rank(method="first").to_numpy()
    codes = np.minimum((ranks - 1) * BINS // len(values), BINS - 1).astype(int)
    return [np.flatnonzero(codes == b) for b in range(BINS) if (codes == b).any()]


def _confusion(truth: Array, labels: Sequence[Array], order: list[Label]) -> ConfusionMatrix:
    shown = order[:MAX_MATRIX] if len(order) > MAX_MATRIX else order
    other = len(order) > len(shown)
    names = [*shown, "other"] if other else list(shown)
    index = {label: k for k, label in enumerate(shown)}
    spare = len(shown)

    actual = _positions(truth, index, spare)

    def matrix(pred: Array) -> list[list[int]]:
        cells = np.bincount(
            actual * len(names) + _positions(pred, index, spare), minlength=len(names) ** 2
        )
        return cells.reshape(len(names), len(names)).tolist()

    tables = [matrix(np.asarray(pred)) for pred in labels]
    return ConfusionMatrix(
        labels=names,
        other=other,
        candidate=tables[0],
        baseline=tables[1] if len(tables) > 1 else None,
    )


def _class_metrics(truth: Array, labels: Sequence[Array], label: Label) -> ClassMetrics:
    actual = np.asarray(_plain(truth)) == label
    scores = []
    for pred in labels:
        said = np.asarray(_plain(np.asarray(pred))) == label
        p, r, f, _ = skm.precision_recall_fscore_support(
            actual, said, average="binary", zero_division=0.0
        )
        scores.append((round(float(p), 4), round(float(r), 4), round(float(f), 4)))
    return ClassMetrics(
        label=label,
        support=int(actual.sum()),
        candidate=scores[0],
        baseline=scores[1] if len(scores) > 1 else None,
    )


def _by_support(truth: Array, predicted: Array) -> list[Label]:
    """Every class (true or predicted), the most frequent in the test set first."""
    codes, labels = _factorized(truth)
    counts: dict[Label, int] = {}
    for label, count in zip(
        labels, np.bincount(codes, minlength=len(labels)).tolist(), strict=True
    ):
        counts[label] = counts.get(label, 0) + count
    for label in _factorized(predicted)[1]:
        counts.setdefault(label, 0)
    return sorted(counts, key=lambda label: (-counts[label], str(label)))


def _factorized(values: Array) -> tuple[Array, list[Label]]:
    """Each row's code among the distinct values (hashed, as a dict would), and the values."""
    codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=False)
    return codes, _plain(np.asarray(uniques, dtype=object))


def _positions(values: Array, index: dict[Label, int], spare: int) -> Array:
    """Each row's position among the shown labels (``spare``: the others)."""
    codes, labels = _factorized(values)
    return np.array([index.get(label, spare) for label in labels], dtype=np.int64)[codes]


def _plain(values: Array) -> list[Label]:
    return [v.item() if hasattr(v, "item") else v for v in np.asarray(values).tolist()]


def _positive_column(classes: Array | None, positive: Label | None) -> int | None:
    if classes is None or positive is None:
        return None
    found = [k for k, label in enumerate(_plain(classes)) if label == positive]
    return found[0] if found else None


def _areas(areas: list[float]) -> dict[str, float | None]:
    return {
        "candidate_area": round(areas[0], 4),
        "baseline_area": round(areas[1], 4) if len(areas) > 1 else None,
    }


def _rounded(values: Any) -> list[float]:
    out = []
    for v in np.asarray(values, dtype=float).tolist():
        out.append(0.0 if not math.isfinite(v) else float(f"{v:.4g}"))
    return out
