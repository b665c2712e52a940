"""Prometheus metrics of the prediction server, in a registry of its own.

With several server processes (WORKERS > 1) every process writes its values to files in one
directory (prometheus_client's multiprocess mode, :func:`share_between_processes` before the
processes start), and ``/metrics``, whichever process answers it, sums them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, values
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def share_between_processes(directory: Path) -> None:
    """From now on this process (and those it forks) keep their metrics in ``directory``."""
    os.environ[_DIRECTORY] = str(directory)
    values.ValueClass = values.get_value_class()


CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class ServingMetrics:
    """``endpoint`` labels are route names (``infer``, ``predict``, ``unknown``, ...), never
    raw paths, so a scan of random URLs cannot grow the label set."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "mlci_serving_requests",
            "HTTP requests by endpoint and status code.",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlci_serving_request_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter(
            "mlci_serving_rows_predicted",
            "Rows the model predicted.",
            registry=self.registry,
        )
        self.validation_failures = Counter(
            "mlci_serving_validation_failures",
            "Requests refused by validation, by feature column ('' when no column is at fault).",
            ["column"],
            registry=self.registry,
        )

    def observe(self, endpoint: str, code: int, seconds: float) -> None:
        self.requests.labels(endpoint=endpoint, code=str(code)).inc()
        self.latency.labels(endpoint=endpoint).observe(seconds)

    def refused(self, columns: tuple[str, ...]) -> None:
        for column in columns or ("",):
            self.validation_failures.labels(column=column).inc()

    def exposition(self) -> bytes:
        directory = os.environ.get(_DIRECTORY)
        if directory is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=directory)
        return generate_latest(combined)
