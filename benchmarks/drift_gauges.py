"""The live drift gauges' CPU time in the serving process, in this process (no servers): what
drift adds to the inference log writer (the 20 features and the predictions into the 5,000-row
windows per batch, and once a second the PSIs set on the gauges), now against as it was. Part
of bench_inference_log.py (also with ``--writer-only``).

Before (:class:`PerColumnWindow`, the window as it was): a ``searchsorted`` and a
``pandas.factorize`` per column and batch, and per gauge update a ``bincount`` of each column
of the ring and a PSI per column (monitoring.bins), set through ``labels()``. Now
(monitoring.sliding.Window, the writer's own ``_gauge``): counts kept per batch, small batches
binned in one call, the PSIs vectorised.

Per 1,000 single-row requests at ~1,000 requests/s: batches of ``BATCH`` (what the writer's
LINGER_S gathers at that rate) and one gauge update (GAUGE_S is 1 s). Thread CPU time,
interleaved, medians (per batch and per gauge update): the writer holds the GIL that long in
one stretch, and a request that arrives meanwhile waits for it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry

from mlci_action.monitoring.sliding import CategoricalColumn, Window, column_for
from mlci_action.serving.inference_log.batch import Batch, batch_of
from mlci_action.serving.inference_log.records import Entry
from mlci_action.serving.inference_log.settings import LogSettings
from mlci_action.serving.inference_log.writer import InferenceLog
from mlci_action.serving.model import ServedModel

BATCH = 50
REQUESTS = 1000


class PerColumnWindow:
    """monitoring.sliding.Window as it was (commit 9bcbb4c): a column at a time."""

    def __init__(self, references: Mapping[str, Any], size: int) -> None:
        self.size = size
        self.columns = {name: column_for(ref) for name, ref in references.items()}
        self.codes = np.full((size, len(self.columns)), -1, dtype=np.int32)
        self.head = self.rows = 0

    def add(self, columns: Mapping[str, Any]) -> None:
        length = len(next(iter(columns.values())))
        keep = min(length, self.size)
        block = np.full((keep, len(self.columns)), -1, dtype=np.int32)
        for j, (name, column) in enumerate(self.columns.items()):
            if name in columns:
                values = columns[name][length - keep :]
                if isinstance(column, CategoricalColumn):  # always pandas.factorize, as it was
                    found, distinct = pd.factorize(np.asarray(values, dtype=object))
                    codes = [column._code(str(v)) for v in distinct.tolist()] + [column.missing]
                    block[:, j] = np.array(codes)[found]
                else:
                    block[:, j] = column.codes(values)
        self.codes[(self.head + np.arange(keep)) % self.size] = block
        self.head = (self.head + keep) % self.size
        self.rows = min(self.size, self.rows + length)

    def psi(self) -> dict[str, float]:
        found = {}
        for j, (name, column) in enumerate(self.columns.items()):
            codes = self.codes[:, j]
            counts = np.bincount(codes[codes != -1], minlength=column.size)
            found[name] = column.psi(counts.astype(np.int64))
        return found


def per_column(log: InferenceLog) -> tuple[Callable[[Batch], None], Callable[[], None]]:
    reference = log.settings.reference
    assert reference is not None and reference.prediction is not None
    features = PerColumnWindow(reference.features, log.settings.drift_window)
    predicted = PerColumnWindow({"prediction": reference.prediction}, log.settings.drift_window)
    metrics = log.metrics

    def add(batch: Batch) -> None:
        features.add(batch.features)
        predicted.add({"prediction": batch.labels})

    def gauge() -> None:
        for name, value in features.psi().items():
            metrics.feature_psi.labels(name).set(value)
        metrics.window_rows.set(features.rows)
        metrics.prediction_psi.set(predicted.psi()["prediction"])

    return add, gauge


def kept_counts(log: InferenceLog) -> tuple[Callable[[Batch], None], Callable[[], None]]:
    features, predicted = log.features, log.predicted
    assert isinstance(features, Window) and isinstance(predicted, Window)

    def add(batch: Batch) -> None:  # InferenceLog._observe's drift part
        features.add(batch.features)
        predicted.add({"prediction": batch.labels})

    return add, log._gauge


def measure(model: ServedModel, rows: np.ndarray, reference: Path, repeats: int) -> list[str]:
    settings = LogSettings.from_environ({"MLCI_REFERENCE": str(reference)})
    entries = [
        Entry(f"s{i}", time.time(), model, rows[i : i + 1], model.predict_matrix(rows[i : i + 1]))
        for i in range(REQUESTS)
    ]
    batches = [batch_of(entries[i : i + BATCH]) for i in range(0, REQUESTS, BATCH)]
    ways = {
        "a column at a time (before)": per_column(InferenceLog(settings, CollectorRegistry())),
        "kept counts, vectorised (now)": kept_counts(InferenceLog(settings, CollectorRegistry())),
    }
    per_batch: dict[str, list[float]] = {}
    per_gauge: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, (add, gauge) in ways.items():  # interleaved
            for batch in batches:
                start = time.thread_time()
                add(batch)
                per_batch.setdefault(name, []).append(time.thread_time() - start)
            start = time.thread_time()
            gauge()
            per_gauge.setdefault(name, []).append(time.thread_time() - start)
    median = statistics.median
    lines = [
        f"| drift gauges, {REQUESTS:,} single-row requests: {len(batches)} batches of {BATCH} "
        "+ 1 gauge update | CPU ms per 1,000 requests | a batch: CPU ms | a gauge update: "
        "CPU ms |",
        "|:--|--:|--:|--:|",
    ]
    for name in ways:
        batch_ms, gauge_ms = median(per_batch[name]) * 1e3, median(per_gauge[name]) * 1e3
        lines.append(
            f"| {name} | {batch_ms * len(batches) + gauge_ms:.2f} | {batch_ms:.3f} | "
            f"{gauge_ms:.3f} |"
        )
    return lines
