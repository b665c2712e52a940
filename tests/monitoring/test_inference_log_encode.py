"""The column-wise encoders against the contract's record, one row at a time
(:func:`records.records`): JSON Lines and Parquet read back to exactly those records, for the
general path's frames (missing values, strings that try to break out of JSON or a report),
the numeric fast path's matrices, requests without probabilities and a regressor; and the
bulk histogram update against prometheus_client's own ``observe``."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry, Histogram
from sklearn.linear_model import LogisticRegression, Ridge

from mlci_action.serving.features import Feature
from mlci_action.serving.inference_log import jsonl
from mlci_action.serving.inference_log.batch import batch_of
from mlci_action.serving.inference_log.metrics import observe_all
from mlci_action.serving.inference_log.parquet import TIME, table_of
from mlci_action.serving.inference_log.records import Entry, records
from mlci_action.serving.model import ServedModel
from tests.monitoring.conftest import Project, sample

HOSTILE = [
    "</details>",
    "a-->b",
    "`x` ```",
    '"]; click A callback',
    "%%{init}%%",
    'quo"te \\ back\\slash',
    "line\nbreak\ttab\r\x00",
    "é ☃ \u2028 😀",
    None,
]
DIGEST = "sha256:" + "cd" * 32


def check(entries: list[Entry]) -> None:
    expected = [row for entry in entries for row in records(entry, DIGEST)]
    batch = batch_of(entries)
    lines = jsonl.encode(batch, DIGEST).decode().split("\n")
    assert lines[-1] == ""  # every record ends its line
    assert [json.loads(line) for line in lines[:-1]] == expected
    buffer = io.BytesIO()
    pq.write_table(table_of(batch, DIGEST), buffer)
    back = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert back.schema.field("time").type == TIME  # a timestamp, not the JSON's string
    assert [{**r, "time": rfc3339_of(r["time"])} for r in back.to_pylist()] == expected


def rfc3339_of(when: datetime) -> str:
    """A Parquet time read back as the JSON record's string."""
    assert when.tzinfo is not None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_frames_with_missing_values_and_hostile_strings(project: Project) -> None:
    entries = []
    for i, rows in enumerate([1, 4, 9, 2]):
        frame = sample(rows, 30 + i)
        frame.loc[0, "a"] = np.nan
        frame["color"] = [HOSTILE[(3 * i + j) % len(HOSTILE)] for j in range(rows)]
        prediction = project.model.predict(sample(rows, 30 + i), proba=i != 2)  # one without
        entries.append(Entry(f"req-{i}", 1_800_000_000.25 + i, project.model, frame, prediction))
    check(entries)


@pytest.fixture(scope="module")
def numeric() -> tuple[ServedModel, ServedModel, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 3)) * np.array([1.0, 1e-7, 1e12])
    features = tuple(Feature(name, "FP64") for name in ("x", "tiny", "huge"))
    clf = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    reg = Ridge(solver="lsqr").fit(x, x[:, 0] * 2)
    classifier = ServedModel("c", clf, features, None, np.asarray(clf.classes_), takes_array=True)
    regressor = ServedModel("r", reg, features, None, None, takes_array=True)
    return classifier, regressor, x


def test_fast_path_matrices(numeric: tuple[ServedModel, ServedModel, np.ndarray]) -> None:
    classifier, regressor, x = numeric
    for model in (classifier, regressor):
        entries = [
            Entry(
                f"{model.name}-{i}",
                1_800_000_100.0 + i,
                model,
                np.asfortranarray(x[start:stop]),  # column-major, as the fast path makes it
                model.predict_matrix(np.asfortranarray(x[start:stop])),
            )
            for i, (start, stop) in enumerate([(0, 1), (1, 50), (50, 52)])
        ]
        check(entries)


def test_a_frame_and_a_matrix_in_one_batch(
    numeric: tuple[ServedModel, ServedModel, np.ndarray],
) -> None:
    import pandas as pd

    classifier, _, x = numeric
    frame = pd.DataFrame(x[:3], columns=classifier.feature_names)
    entries = [
        Entry("frame", 1.5, classifier, frame, classifier.predict(frame)),
        Entry("matrix", 2.5, classifier, x[3:5], classifier.predict_matrix(x[3:5])),
    ]
    check(entries)
    assert batch_of(entries).matrix is None  # the general route for a mixed batch


def test_many_rows_written_at_once_match_the_per_row_records(project: Project) -> None:
    frame = sample(3000, 44)
    entry = Entry("big", 1_800_000_000.0, project.model, frame, project.model.predict(frame))
    check([entry, replace(entry, request_id="big-2")])


def test_observe_all_is_observe_per_value() -> None:
    buckets = (-1.0, 0.0, 0.5, 2.0)
    values = np.array([-3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 0.5000001, 2.0, 7.0, 1e9])
    one, many = CollectorRegistry(), CollectorRegistry()
    each = Histogram("h", "h", buckets=buckets, registry=one)
    for value in values.tolist():
        each.observe(value)
    observe_all(Histogram("h", "h", buckets=buckets, registry=many), values)
    assert samples(many) == samples(one) and samples(one)[("h_count", ())] == len(values)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_the_parquet_time_is_the_instant_the_json_time_names() -> None:
    """Sub-microsecond fractions round alike in both formats (Python's round-half-even)."""
    from mlci_action.monitoring.window import parse_time
    from mlci_action.serving.inference_log.parquet import EPOCH, micros
    from mlci_action.serving.inference_log.records import rfc3339

    rng = np.random.default_rng(5)
    times = [1_800_000_000.0000005, 1_800_000_000.0000015, 0.0, 1.5e-6, 2.5e-6]
    times += (rng.random(200) * 2e9).tolist()
    for seconds in times:
        named = parse_time(rfc3339(seconds)) - EPOCH
        assert micros(seconds) == named // np.timedelta64(1, "us").item(), seconds
