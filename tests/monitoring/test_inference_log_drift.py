"""Live drift: the sliding window, and /metrics gauges that single out a shifted feature."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlci_action.monitoring.bins import categorical_psi, numeric_counts, numeric_psi
from mlci_action.monitoring.sliding import (
    MAX_NEW_LEVELS,
    CategoricalReference,
    NumericReference,
    Window,
)
from tests.monitoring.conftest import FEATURES, Project, metric, running, sample, settings

WINDOW = 500


def test_the_window_holds_the_last_rows_only() -> None:
    reference = NumericReference((0.0, 1.0, 2.0, 3.0), (10, 10, 10), 0)
    window = Window({"x": reference}, size=10)
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(0, 3, size=7), rng.uniform(2, 3, size=8)])
    values[-1] = np.nan
    for start in range(0, len(values), 4):  # batches that wrap around the ring
        window.add({"x": values[start : start + 4], "ignored": ["?"] * 4})
    counts, missing = numeric_counts(reference.edges, values[-10:])
    assert window.rows == 10
    assert window.psi()["x"] == pytest.approx(numeric_psi((10, 10, 10), 0, counts, missing))


def test_new_categorical_levels_are_bounded() -> None:
    reference = CategoricalReference({"red": 5, "blue": 5}, 0, 0)
    window = Window({"c": reference}, size=1000)
    window.add({"c": [f"level-{i}" for i in range(3 * MAX_NEW_LEVELS)] + ["red", None]})
    live = {f"level-{i}": 1 for i in range(MAX_NEW_LEVELS)} | {"red": 1}
    expected = categorical_psi({"red": 5, "blue": 5}, 0, 0, live, 2 * MAX_NEW_LEVELS, 1)
    assert window.psi()["c"] == pytest.approx(expected)
    column = window.columns["c"]  # coded when read (sliding.Window.add keeps, psi bins)
    assert len(column.levels) == 2 + MAX_NEW_LEVELS  # type: ignore[union-attr]


def _send(server, frame, batch: int = 100) -> None:
    for start in range(0, len(frame), batch):
        server.predict(frame.iloc[start : start + batch])


def test_a_shifted_feature_stands_out_in_metrics(project: Project) -> None:
    with running(project, settings(project, drift_window=WINDOW)) as server:
        usual = sample(WINDOW, seed=21)
        _send(server, usual)
        assert server.log is not None and server.log.flush()
        before = server.metrics()
        _send(server, sample(WINDOW, seed=22, shift_a=1.5))
        assert server.log.flush()
        after = server.metrics()
    for feature in FEATURES:
        assert metric(before, "mlci_feature_drift_psi", feature=feature) < 0.2, feature
    assert metric(before, "mlci_prediction_drift_psi") < 0.2
    assert metric(before, "mlci_drift_window_rows") == WINDOW
    assert metric(after, "mlci_feature_drift_psi", feature="a") > 0.2
    assert metric(after, "mlci_feature_drift_psi", feature="b") < 0.2
    assert metric(after, "mlci_feature_drift_psi", feature="color") < 0.2
    labels, counts = np.unique(project.sklearn.predict(usual), return_counts=True)
    for label, count in zip(labels, counts, strict=True):
        assert metric(before, "mlci_predictions_total", **{"class": str(label)}) == count


def test_gauges_in_prometheus_multiprocess_mode(tmp_path: Path) -> None:
    """With WORKERS > 1 every process's series are files in one directory: the gauges keep a
    series per process (``pid``), the counters are summed."""
    script = f"""
import os
from mlci_action.serving.metrics import ServingMetrics, share_between_processes
from mlci_action.serving.inference_log.metrics import LogMetrics
share_between_processes(__import__("pathlib").Path({str(tmp_path)!r}))
metrics = ServingMetrics()
log = LogMetrics(metrics.registry, None)
log.feature_psi.labels("a").set(0.5)
log.records.labels("written").inc(3)
log.count_predictions(["yes", "no", "yes"], classifier=True)
print(os.getpid())
print(metrics.exposition().decode())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    pid, _, text = done.stdout.partition("\n")
    assert metric(text, "mlci_feature_drift_psi", feature="a", pid=pid) == 0.5
    assert metric(text, "mlci_inference_log_records_total", outcome="written") == 3
    assert metric(text, "mlci_predictions_total", **{"class": "yes"}) == 2


def test_the_window_bins_each_value_as_bin_index_does() -> None:
    """Values on the edges, beyond them, NaN, batches smaller and larger than the window: the
    window's PSI is the one of the last N values binned by the shared rule (monitoring.bins)."""
    rng = np.random.default_rng(5)
    edges = (-2.0, -0.5, 0.0, 0.5, 3.0)
    references = {
        "x": NumericReference(edges, (5, 20, 20, 5), 1),
        "y": NumericReference((0.0, 1.0), (7,), 0),  # one bin
    }
    window = Window(references, size=64)
    seen: dict[str, list[float]] = {"x": [], "y": []}
    for length in (3, 64, 1, 100, 17, 40):
        batch = {
            "x": rng.choice([*edges, -9.0, 9.0, np.nan, 0.25], size=length),
            "y": rng.normal(size=length),
        }
        window.add(batch)
        for name in seen:
            seen[name] += batch[name].tolist()
    for name, reference in references.items():
        counts, missing = numeric_counts(reference.edges, np.array(seen[name][-64:]))
        expected = numeric_psi(reference.counts, reference.missing, counts, missing)
        assert window.psi()[name] == pytest.approx(expected), name
