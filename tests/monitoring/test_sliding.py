"""The sliding window's kept counts and vectorised PSI against the per-column rule
(monitoring.bins on the last N raw values), on random data with NaNs, values on and beyond the
edges, None, unseen categories, columns a batch lacks, and batches on both binning paths."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from mlci_action.monitoring.bins import categorical_psi, numeric_counts, numeric_psi
from mlci_action.monitoring.sliding import (
    BROADCAST_ROWS,
    PENDING_ROWS,
    CategoricalColumn,
    CategoricalReference,
    NumericReference,
    Window,
)
from mlci_action.serving.inference_log.metrics import LogMetrics

SIZE = 300


def references(rng: np.random.Generator) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for i, bins in enumerate((1, 2, 5, 10, 10, 7)):
        edges = np.unique(np.round(rng.normal(size=bins + 1), 2))
        found[f"x{i}"] = NumericReference(
            tuple(edges.tolist()),
            tuple(rng.integers(0, 50, size=len(edges) - 1).tolist()),
            int(rng.integers(0, 2) * rng.integers(1, 9)),
        )
    found["c"] = CategoricalReference({"red": 30, "blue": 10, "green": 0}, 3, 0)
    found["k"] = CategoricalReference({"1": 5, "2": 7}, 0, 2)
    return found


def batch(rng: np.random.Generator, refs: dict[str, Any], rows: int) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name, ref in refs.items():
        if isinstance(ref, NumericReference):
            pool = [*ref.edges, ref.edges[0] - 5, ref.edges[-1] + 5, np.nan, np.inf, -np.inf]
            x = rng.normal(size=rows) * 2
            pick = rng.random(rows) < 0.3
            x[pick] = rng.choice(pool, size=int(pick.sum()))
            columns[name] = x
    columns["c"] = list(rng.choice(["red", "blue", "green", "violet", "teal", None], size=rows))
    columns["k"] = rng.integers(0, 4, size=rows)  # integer levels, "0" and "3" unseen
    return columns


def expected_psi(refs: dict[str, Any], seen: dict[str, list[Any]]) -> dict[str, float]:
    found = {}
    for name, ref in refs.items():
        values = [v for v in seen[name][-SIZE:] if v is not _ABSENT]
        if isinstance(ref, NumericReference):
            counts, missing = numeric_counts(ref.edges, np.array(values, dtype=np.float64))
            found[name] = numeric_psi(ref.counts, ref.missing, counts, missing)
        else:
            present = [v for v in values if v is not None]
            live = Counter(str(v) for v in present)
            missing = len(values) - len(present)
            found[name] = categorical_psi(ref.frequencies, ref.other, ref.missing, live, 0, missing)
    return found


_ABSENT = object()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("read_each_batch", [True, False], ids=["read-each", "read-at-end"])
def test_the_window_is_the_per_column_rule_on_the_last_rows(
    seed: int, read_each_batch: bool
) -> None:
    """Read after every batch (each binned alone, small ones in one broadcast), or only at
    the end (batches wait and are binned together, more than PENDING_ROWS on the way)."""
    rng = np.random.default_rng(seed)
    refs = references(rng)
    window = Window(refs, size=SIZE)
    seen: dict[str, list[Any]] = {name: [] for name in refs}
    lengths = [1, 16, 3, BROADCAST_ROWS, BROADCAST_ROWS + 1, 50, 2 * SIZE, 7, 120, 1]
    if not read_each_batch:
        lengths += [SIZE] * (PENDING_ROWS // SIZE) + [5, 9, 2]
    for round_, rows in enumerate(lengths):
        columns = batch(rng, refs, rows)
        if round_ in (2, 5, 6):  # batches without one numeric and one categorical column
            del columns["x3"], columns["c"]
        window.add(columns)
        for name in refs:
            seen[name] += list(columns[name]) if name in columns else [_ABSENT] * rows
        if not read_each_batch and round_ < len(lengths) - 1:
            continue
        want = expected_psi(refs, seen)
        got = window.psi()
        assert list(got) == list(refs)
        for name in refs:
            assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-12, nan_ok=True), (
                round_,
                name,
            )
    assert window.rows == SIZE


def test_an_empty_window_is_nan_and_counts_nothing() -> None:
    refs = references(np.random.default_rng(3))
    window = Window(refs, size=10)
    assert all(np.isnan(v) for v in window.psi().values())
    window.add({"x0": [np.nan] * 4})  # only one column: the others count none of these rows
    got = window.psi()
    assert got["x0"] == pytest.approx(numeric_psi(refs["x0"].counts, refs["x0"].missing, [0], 4))
    assert np.isnan(got["x1"]) and np.isnan(got["c"])


def test_numpy_and_pandas_level_codes_agree_in_order_of_first_appearance() -> None:
    """Integer and string labels take numpy's path, objects pandas': the same codes, new
    levels numbered as they first appear (which decides who is "other" past the bound)."""
    rng = np.random.default_rng(4)
    values = rng.integers(0, 200, size=500)
    fast = CategoricalColumn(CategoricalReference({"5": 1, "7": 1}, 0, 0))
    slow = CategoricalColumn(CategoricalReference({"5": 1, "7": 1}, 0, 0))
    for typed in (values, values.astype(str)):
        assert fast.codes(typed).tolist() == slow.codes(typed.astype(object)).tolist()
    assert fast.levels == slow.levels


def test_prediction_counts_by_class_whatever_the_label_type() -> None:
    for labels in (
        np.array([1, 0, 1, 1, 2]),
        np.array(["yes", "no", "yes"]),
        np.array([True, False, True]),
        np.array(["yes", None, "no", "yes"], dtype=object),
    ):
        metrics = LogMetrics(CollectorRegistry(), None)
        metrics.count_predictions(labels, classifier=True)
        assert metrics.predictions is not None
        got = {
            sample.labels["class"]: sample.value
            for family in metrics.predictions.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        }
        assert got == Counter(str(v) for v in labels.tolist() if v is not None)
