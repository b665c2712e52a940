"""The smoke-test client against the real servers, with answers made in-process."""

from __future__ import annotations

import itertools
import json
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlci_action.errors import StageFailure
from mlci_action.serving.client import Cases, SmokeTestError, smoke_test
from mlci_action.worker import smoke_cases
from tests.serving.conftest import COLORS, Served, request
from tests.serving.test_server import _metric


def cases_file(served: Served, path: Path, frame: pd.DataFrame | None = None) -> Path:
    """What the evaluate task writes: the rows and the model's own labels and probabilities."""
    features = served.features if frame is None else frame.drop(columns=[served.target])
    data = features if hasattr(served.model, "feature_names_in_") else features.to_numpy()
    labels = served.model.predict(data)
    proba = served.model.predict_proba(data) if hasattr(served.model, "predict_proba") else None
    classes = getattr(served.model, "classes_", None)
    return smoke_cases.write(path, features, labels, proba, classes, limit=10_000)


def edit(path: Path, change: Any) -> None:
    cases = json.loads(path.read_text())
    change(cases)
    path.write_text(json.dumps(cases))


def test_classifier_matches_labels_and_probabilities(clf: Served, tmp_path: Path) -> None:
    cases = cases_file(clf, tmp_path / "cases.json")
    result = smoke_test(clf.address, "clf", cases)
    assert result.rows == len(clf.test)
    assert (result.mismatches, result.first_mismatches) == (0, ())
    assert result.probabilities
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.batch_rows_per_s > 0


def test_altered_labels_are_reported(clf: Served, tmp_path: Path) -> None:
    path = cases_file(clf, tmp_path / "cases.json")
    flipped = {"yes": "no", "no": "maybe", "maybe": "yes"}

    def flip(cases: dict[str, Any]) -> None:
        for row in (3, 40):
            cases["predict"][row] = flipped[cases["predict"][row]]

    edit(path, flip)
    result = smoke_test(f"http://{clf.address}", "clf", path, batch_size=7, singles=1000)
    assert result.mismatches == 2
    assert {(m.row, m.via) for m in result.first_mismatches} >= {(3, "single"), (3, "batch")}
    assert result.first_mismatches[0].expected == json.loads(path.read_text())["predict"][3]


def test_probabilities_that_drift_are_skew_even_with_the_same_label(
    clf: Served, tmp_path: Path
) -> None:
    path = cases_file(clf, tmp_path / "cases.json")

    def nudge(cases: dict[str, Any]) -> None:
        row = cases["predict_proba"][11]
        row[0], row[1] = row[0] + 1e-6, row[1] - 1e-6  # the label (argmax) does not change

    edit(path, nudge)
    result = smoke_test(clf.address, "clf", path, batch_size=25)
    assert result.mismatches == 1
    assert {(m.row, m.output) for m in result.first_mismatches} == {(11, "predict_proba")}


def test_a_server_without_probabilities_is_skew(reg: Served, tmp_path: Path) -> None:
    path = cases_file(reg, tmp_path / "cases.json")
    edit(path, lambda cases: cases.update(predict_proba=[[0.5, 0.5]] * cases["rows"]))
    with pytest.raises(SmokeTestError, match=r"gives no probabilities.*but the evaluated model"):
        smoke_test(reg.address, "reg", path)


def test_regression_is_exact(reg: Served, tmp_path: Path) -> None:
    path = cases_file(reg, tmp_path / "cases.json")
    assert smoke_test(reg.address, "reg", path).mismatches == 0
    edit(path, lambda cases: cases["predict"].__setitem__(0, cases["predict"][0] * (1 + 1e-6)))
    result = smoke_test(reg.address, "reg", path, batch_size=50)
    assert result.mismatches == 1
    assert result.first_mismatches[0].row == 0
    assert not result.probabilities
    assert np.isclose(result.first_mismatches[0].got, reg.model.predict(reg.features.to_numpy())[0])


def test_only_the_first_rows_are_replayed(clf: Served, tmp_path: Path) -> None:
    features = clf.features
    proba = clf.model.predict_proba(features)
    path = smoke_cases.write(
        tmp_path / "cases.json",
        features,
        clf.model.predict(features),
        proba,
        clf.model.classes_,
        30,
    )
    cases = json.loads(path.read_text())
    assert (cases["rows"], cases["of"]) == (30, len(features))
    assert smoke_test(clf.address, "clf", path).rows == 30


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_server_is_a_stage_failure(clf: Served, tmp_path: Path) -> None:
    cases = cases_file(clf, tmp_path / "cases.json")
    with pytest.raises(SmokeTestError, match=r"not ready within 0\.5s.*Connection refused") as info:
        smoke_test(f"127.0.0.1:{_closed_port()}", "clf", cases, ready_timeout_s=0.5)
    assert isinstance(info.value, StageFailure)


def test_unknown_model_never_becomes_ready(clf: Served, tmp_path: Path) -> None:
    cases = cases_file(clf, tmp_path / "cases.json")
    with pytest.raises(SmokeTestError, match="'nope' was not ready"):
        smoke_test(clf.address, "nope", cases, ready_timeout_s=0.3)


def test_refused_rows_are_a_stage_failure(clf: Served, tmp_path: Path) -> None:
    bad = clf.test.copy()
    bad.loc[5, "a"] = 99.0  # outside the schema's range
    cases = cases_file(clf, tmp_path / "cases.json", bad)
    with pytest.raises(SmokeTestError, match=r"refused a request.*column 'a' fails in_range"):
        smoke_test(clf.address, "clf", cases, batch_size=10)


def test_missing_values_travel_as_the_server_expects(tmp_path: Path) -> None:
    """NaN in a float column reaches the server (which refuses it by the schema or scores it)
    the same way the old numpy client sent it; a None in a text column is a JSON null."""
    frame = pd.DataFrame({"x": [1.5, np.nan], "t": ["a", None], "n": [1, 2], "b": [True, False]})
    path = smoke_cases.write(
        tmp_path / "cases.json", frame, np.array([0.1, 0.2]), None, None, limit=5
    )
    text = path.read_text()
    assert '"x": [1.5, NaN]' in text and '"t": ["a", null]' in text
    cases = json.loads(text)
    assert cases["columns"]["n"] == [1, 2] and cases["columns"]["b"] == [True, False]


def test_a_foreign_file_is_refused(clf: Served, tmp_path: Path) -> None:
    path = tmp_path / "cases.json"
    path.write_text('{"rows": 1}')
    with pytest.raises(SmokeTestError, match="not an mlci smoke-cases file"):
        smoke_test(clf.address, "clf", path)


def test_a_thousand_rows_go_in_batches_plus_a_sample_of_single_rows(
    clf: Served, tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    rows = 1000
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 10, size=rows),
            "color": rng.choice(COLORS, size=rows),
            "label": "yes",
        }
    )
    path = cases_file(clf, tmp_path / "cases.json", frame)

    def infers() -> float:
        text = request(clf, "GET", "/metrics")[1]
        return _metric(text, "mlci_serving_requests_total", endpoint="infer", code="200")

    before = infers()
    result = smoke_test(clf.address, "clf", path, batch_size=256, singles=50)
    assert (result.rows, result.mismatches) == (rows, 0)
    # a warm-up, four batches (256 + 256 + 256 + 232 rows), fifty single rows
    assert infers() - before == 1 + 4 + 50


def test_the_single_row_sample_is_spread_over_the_file(clf: Served, tmp_path: Path) -> None:
    cases = Cases.read(cases_file(clf, tmp_path / "cases.json"))
    sample = cases.sample(10)
    assert len(sample) == 10 and sample[0] == 0 and sample[-1] == cases.rows - 1
    gaps = {b - a for a, b in itertools.pairwise(sample)}
    assert max(gaps) - min(gaps) <= 1
    assert cases.sample(cases.rows + 5) == list(range(cases.rows))
