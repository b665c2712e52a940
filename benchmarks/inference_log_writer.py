"""The inference log writer's CPU time per 1,000 logged rows, in this process (no servers):
the column-wise writer (mlci_action.serving.inference_log: one Batch, orjson on whole columns,
the drift window a column at a time) against the per-row writer it replaced (a dict and a
``json.dumps`` per row, ``records.records``, the contract's reference). Part of
bench_inference_log.py; with ``--writer-only`` it is all that runs (for a loaded machine,
where server latencies mean little but CPU time per row still compares).

Both do everything the writer thread does for JSON Lines with drift gauges: encode, write the
file, count predictions, bin the 20 features and the predictions into the 5,000-row window,
and the gauges (a PSI per column) at most once a second. Two shapes: 1,000 single-row requests (the per-row
writer woke for each; the column-wise one takes ``BATCH_SINGLES`` at a time, what
``LINGER_S`` gathers at a few hundred requests a second) and one 1,000-row request.
Interleaved, medians of ``repeats`` rounds of thread CPU time.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from mlci_action.monitoring.sliding import Window
from mlci_action.serving.inference_log.records import Entry, records
from mlci_action.serving.inference_log.reference import load_reference
from mlci_action.serving.inference_log.settings import LogSettings
from mlci_action.serving.inference_log.writer import GAUGE_S, InferenceLog
from mlci_action.serving.model import ServedModel

BATCH_SINGLES = 16


def per_row_writer(reference: Path, directory: Path) -> Callable[[list[Entry]], None]:
    """The writer as it was: per-row dicts and JSON, columns gathered from each entry's frame."""
    live = load_reference(reference)
    features = Window(live.features, 5000)
    assert live.prediction is not None
    predicted = Window({"prediction": live.prediction}, 5000)
    file = (directory / "per-row.jsonl").open("wb")
    counts: Counter[str] = Counter()
    gauged = [0.0]

    def write(entries: list[Entry]) -> None:
        made = [row for entry in entries for row in records(entry, "")]
        data = "".join(
            json.dumps(r, separators=(",", ":"), allow_nan=False) + "\n" for r in made
        ).encode()
        file.write(data)
        file.flush()
        labels = np.concatenate([np.asarray(e.prediction.labels) for e in entries])
        counts.update(map(str, labels.tolist()))
        features.add(
            {
                name: np.concatenate([e.frame[name].to_numpy() for e in entries])
                for name in entries[0].frame.columns
            }
        )
        predicted.add({"prediction": labels})
        if time.monotonic() - gauged[0] >= GAUGE_S:  # the gauges, as often as the writer does
            gauged[0] = time.monotonic()
            features.psi()
            predicted.psi()

    return write


def column_writer(reference: Path, directory: Path) -> Callable[[list[Entry]], None]:
    """The writer's own ``_write``: the sinks, counters, window, and the gauges every GAUGE_S."""
    settings = LogSettings.from_environ(
        {"MLCI_LOG_PATH": str(directory / "column"), "MLCI_REFERENCE": str(reference)}
    )
    log = InferenceLog(settings, CollectorRegistry())  # its thread idles: we call _write here

    return log._write


def measure(model: ServedModel, rows: np.ndarray, reference: Path, repeats: int) -> list[str]:
    singles = [
        Entry(f"s{i}", time.time(), model, rows[i : i + 1], model.predict_matrix(rows[i : i + 1]))
        for i in range(1000)
    ]
    block = rows[:1000]
    batch = [Entry("b", time.time(), model, block, model.predict_matrix(block))]
    shapes: dict[str, tuple[list[list[Entry]], list[list[Entry]]]] = {
        "1,000 single-row requests": (
            [[e] for e in singles],
            [singles[i : i + BATCH_SINGLES] for i in range(0, len(singles), BATCH_SINGLES)],
        ),
        "one 1,000-row request": ([batch], [batch]),
    }
    with tempfile.TemporaryDirectory(prefix="mlci-bench-writer-") as tmp:
        writers = {
            "per row (before)": per_row_writer(reference, Path(tmp)),
            "column-wise (now)": column_writer(reference, Path(tmp)),
        }
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(repeats):
            for shape, (old, new) in shapes.items():
                for name, write in writers.items():  # interleaved
                    calls = old if name.startswith("per row") else new
                    start = time.thread_time()
                    for entries in calls:
                        write(entries)
                    times.setdefault((shape, name), []).append(time.thread_time() - start)
    lines = [
        "| 1,000 rows as | per row (before): CPU ms | column-wise (now): CPU ms | ratio |",
        "|:--|--:|--:|--:|",
    ]
    for shape in shapes:
        old_ms = statistics.median(times[(shape, "per row (before)")]) * 1e3
        new_ms = statistics.median(times[(shape, "column-wise (now)")]) * 1e3
        lines.append(f"| {shape} | {old_ms:.1f} | {new_ms:.1f} | {old_ms / new_ms:.1f}x |")
    return lines
