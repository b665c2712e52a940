"""Live performance: metrics against ground-truth labels with bootstrap intervals, or, without
labels, an estimate of accuracy from the model's confidences.

With labels, each metric is scored by :func:`mlci_action.worker.scoring.metric_values` (the
same code that scored the candidate at build time) on the live rows, and its interval is the
expanded percentile bootstrap interval of :mod:`mlci_action.stats.intervals`.

Without labels, confidence-based performance estimation (CBPE): if the model is calibrated,
row ``i`` is right with probability ``c_i``, its largest class probability, so the expected
accuracy is ``mean(c)``; the number right is a sum of independent Bernoulli(c_i) (Poisson
binomial), whose variance ``sum c_i (1 - c_i)`` gives a normal interval for the accuracy the
labels would show. It is an estimate: it holds only while the model stays calibrated, which
covariate shift can break; the report says so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from mlci_action.errors import StageFailure
from mlci_action.monitoring.record import LiveMetric
from mlci_action.monitoring.tally import ConfidenceTally
from mlci_action.stats.intervals import expanded_percentile
from mlci_action.worker.scoring import metric_values

Array = npt.NDArray[Any]
CBPE_METRIC = "accuracy"


def metric_interval(
    name: str,
    truth: Array,
    predicted: Array,
    proba: Array | None,
    classes: Array | None,
    *,
    positive: Any = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float | None, float | None]:
    """(value, low, high) of one metric; the interval from ``resamples`` bootstrap resamples
    of the rows (None without resamples, or when no resample defines the metric)."""
    value = metric_values(name, truth, predicted, proba, classes, positive)
    if resamples <= 0 or len(truth) < 2:
        return value, None, None
    generator = np.random.default_rng(seed)
    found = np.empty(resamples)
    for index in range(resamples):
        take = generator.integers(0, len(truth), len(truth))
        try:
            found[index] = metric_values(
                name,
                truth[take],
                predicted[take],
                None if proba is None else proba[take],
                classes,
                positive,
            )
        except (StageFailure, ValueError):  # undefined on this resample (one class, say)
            found[index] = np.nan
    interval = expanded_percentile(found, confidence, len(truth))
    return (value, None, None) if interval is None else (value, *interval)


def live_metrics(
    names: list[str],
    truth: Array,
    predicted: Array,
    proba: Array | None,
    classes: Array | None,
    *,
    positive: Any = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[LiveMetric]:
    """Each metric on the labelled live rows; a metric that cannot be computed on them (it
    needs probabilities the log lacks, one class only) has no value."""
    results = []
    for name in names:
        try:
            value, low, high = metric_interval(
                name,
                truth,
                predicted,
                proba,
                classes,
                positive=positive,
                resamples=resamples,
                confidence=confidence,
                seed=seed,
            )
        except (StageFailure, ValueError, TypeError):
            value, low, high = math.nan, None, None
        results.append(
            LiveMetric(
                name=name,
                value=value if math.isfinite(value) else None,
                low=low,
                high=high,
                confidence=confidence,
                rows=len(truth),
            )
        )
    return results


def cbpe_accuracy(proba: Array, confidence: float = 0.95) -> LiveMetric:
    """The expected accuracy of a calibrated classifier from its class probabilities (one row
    per live row, one column per class), with a normal interval of the Poisson-binomial
    accuracy; rows without probabilities (NaN) are left out."""
    tally = ConfidenceTally()
    tally.add(proba)
    return cbpe_estimate(tally, confidence)


def cbpe_estimate(tally: ConfidenceTally, confidence: float = 0.95) -> LiveMetric:
    """:func:`cbpe_accuracy` from the running sums of a window's confidences."""
    rows = tally.rows
    if rows == 0:
        return LiveMetric(
            name=CBPE_METRIC, value=None, confidence=confidence, rows=0, estimate=True
        )
    expected = tally.total / rows
    spread = math.sqrt(tally.variance) / rows
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return LiveMetric(
        name=CBPE_METRIC,
        value=expected,
        low=max(0.0, expected - z * spread),
        high=min(1.0, expected + z * spread),
        confidence=confidence,
        rows=rows,
        estimate=True,
    )
