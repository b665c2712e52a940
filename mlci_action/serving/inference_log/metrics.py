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

from collections import Counter as CountOf
from collections.abc import Sequence

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
        self.registry = registry
        self.predictions: Counter | None = None
        self.prediction_value: Histogram | None = None

    def count_predictions(self, labels: Sequence[object], classifier: bool) -> None:
        """Into the class counter (a classifier) or the histogram (a regressor), made on
        first use, when the model is known."""
        if classifier:
            if self.predictions is None:
                self.predictions = Counter(
                    "mlci_predictions",
                    "Logged predictions by predicted class.",
                    ["class"],
                    registry=self.registry,
                )
            for label, count in CountOf(map(str, labels)).items():
                self.predictions.labels(label).inc(count)
            return
        if self.prediction_value is None:
            self.prediction_value = Histogram(
                "mlci_prediction_value",
                "Logged predictions of a regressor.",
                buckets=self.buckets,
                registry=self.registry,
            )
        for value in labels:
            self.prediction_value.observe(float(value))  # type: ignore[arg-type]
