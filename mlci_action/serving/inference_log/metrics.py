"""The inference log's Prometheus series, in the server's registry.

``mlci_inference_log_records_total{outcome}``: rows ``written`` to every sink, ``failed``
(a sink refused them) or ``dropped`` (the queue was full). ``mlci_inference_log_sink_failures_total{sink}``
counts failed writes by sink (``files``, ``cloudevents``).
``mlci_feature_drift_psi{feature}`` and ``mlci_prediction_drift_psi``: PSI of the last
MLCI_DRIFT_WINDOW logged rows against the reference profile; ``mlci_drift_window_rows`` how
many rows that window holds. ``mlci_predictions_total{class}`` (a classifier) or the histogram
``mlci_prediction_value`` (a regressor, on the reference's bin edges) is the live prediction
distribution.

With several server processes (WORKERS > 1) counters are summed over the processes; each
process keeps its own window, so the drift gauges carry a ``pid`` label, one series per live
process (prometheus_client's ``liveall`` mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DEFAULT_BUCKETS = (-1000.0, -100.0, -10.0, -1.0, 0.0, 1.0, 10.0, 100.0, 1000.0)


class LogMetrics:
    def __init__(self, registry: CollectorRegistry, buckets: Sequence[float] | None) -> None:
        self.buckets = tuple(buckets) if buckets else DEFAULT_BUCKETS
        self.records = Counter(
            "mlci_inference_log_records",
            "Inference log rows by outcome: written, failed (a sink refused), dropped (queue full).",
            ["outcome"],
            registry=registry,
        )
        self.sink_failures = Counter(
            "mlci_inference_log_sink_failures",
            "Failed writes to an inference log sink, by sink.",
            ["sink"],
            registry=registry,
        )
        self.feature_psi = Gauge(
            "mlci_feature_drift_psi",
            "PSI of the live window against the reference profile, by feature.",
            ["feature"],
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.prediction_psi = Gauge(
            "mlci_prediction_drift_psi",
            "PSI of the live window's predictions against the reference's.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.window_rows = Gauge(
            "mlci_drift_window_rows",
            "Live rows in the drift window (MLCI_DRIFT_WINDOW at most).",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self._feature_gauges: dict[str, Gauge] = {}
        self.registry = registry
        self.predictions: Counter | None = None
        self.prediction_value: Histogram | None = None

    def feature_gauge(self, name: str) -> Gauge:
        """The feature's drift gauge, looked up once (``labels`` costs a lock and a tuple)."""
        gauge = self._feature_gauges.get(name)
        if gauge is None:
            gauge = self._feature_gauges[name] = self.feature_psi.labels(name)
        return gauge

    def count_predictions(self, labels: npt.NDArray[Any], classifier: bool) -> None:
        """Into the class counter (a classifier) or the histogram (a regressor), made on
        first use, when the model is known; one increment per class or bucket, not per row."""
        if not len(labels):
            return
        if classifier:
            if self.predictions is None:
                self.predictions = Counter(
                    "mlci_predictions",
                    "Logged predictions by predicted class.",
                    ["class"],
                    registry=self.registry,
                )
            array = np.asarray(labels)
            if array.dtype.kind in "biuU":  # cannot hold None or NaN: numpy's unique is cheaper
                uniques, tally = np.unique(array, return_counts=True)
            else:
                codes, uniques = pd.factorize(array)
                tally = np.bincount(codes[codes >= 0], minlength=len(uniques))
            counted: dict[str, int] = {}
            for label, count in zip(uniques.tolist(), tally.tolist(), strict=True):
                counted[str(label)] = counted.get(str(label), 0) + int(count)
            for label, count in counted.items():
                self.predictions.labels(label).inc(count)
            return
        if self.prediction_value is None:
            self.prediction_value = Histogram(
                "mlci_prediction_value",
                "Logged predictions of a regressor.",
                buckets=self.buckets,
                registry=self.registry,
            )
        observe_all(self.prediction_value, np.asarray(labels, dtype=np.float64))


def observe_all(histogram: Histogram, values: npt.NDArray[np.float64]) -> None:
    """``histogram.observe(v)`` for every value, as one increment per bucket: prometheus_client
    has no bulk observe, so this adds to the histogram's own bucket and sum values (its
    ``observe`` does the same, one value at a time); per value if those ever change."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for value in values.tolist():
            histogram.observe(value)
        return
    values = values[~np.isnan(values)]  # observe() puts a NaN in no bucket
    index = np.searchsorted(np.asarray(bounds, dtype=np.float64), values, side="left")
    for bucket, count in enumerate(np.bincount(index, minlength=len(buckets)).tolist()):
        if count:
            buckets[bucket].inc(count)
    total.inc(sum(values.tolist()))  # in order, as observe() adds them
