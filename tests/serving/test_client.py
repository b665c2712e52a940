"""The smoke-test client against the real servers, with predictions made in-process."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci_action.errors import StageFailure
from mlci_action.serving.client import SmokeTestError, smoke_test
from tests.serving.conftest import Served


def expected_file(served: Served, path: Path) -> Path:
    """What the evaluate stage writes: the model's own predictions, column ``prediction``."""
    features = served.features
    data = features if hasattr(served.model, "feature_names_in_") else features.to_numpy()
    pd.DataFrame({"prediction": served.model.predict(data)}).to_csv(path, index=False)
    return path


def test_classifier_matches_in_process_predictions(clf: Served, tmp_path: Path) -> None:
    expected = expected_file(clf, tmp_path / "predictions.csv")
    result = smoke_test(clf.address, "clf", clf.test_csv, "label", expected)
    assert result.rows == len(clf.test)
    assert (result.mismatches, result.first_mismatches) == (0, ())
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.batch_rows_per_s > 0


def test_altered_expectations_are_reported(clf: Served, tmp_path: Path) -> None:
    path = expected_file(clf, tmp_path / "predictions.csv")
    frame = pd.read_csv(path)
    flipped = {"yes": "no", "no": "maybe", "maybe": "yes"}
    for row in (3, 40):
        frame.loc[row, "prediction"] = flipped[frame.loc[row, "prediction"]]
    frame.to_csv(path, index=False)
    result = smoke_test(f"http://{clf.address}", "clf", clf.test_csv, "label", path, batch_size=7)
    assert result.mismatches == 2
    assert {(m.row, m.via) for m in result.first_mismatches} >= {(3, "single"), (3, "batch")}
    assert result.first_mismatches[0].expected == frame.loc[3, "prediction"]


def test_regression_is_exact(reg: Served, tmp_path: Path) -> None:
    path = expected_file(reg, tmp_path / "predictions.csv")
    assert smoke_test(reg.address, "reg", reg.test_csv, "y", path).mismatches == 0
    frame = pd.read_csv(path)
    frame.loc[0, "prediction"] *= 1 + 1e-6
    frame.to_csv(path, index=False)
    result = smoke_test(reg.address, "reg", reg.test_csv, "y", path, batch_size=50)
    assert result.mismatches == 1
    assert result.first_mismatches[0].row == 0
    assert np.isclose(result.first_mismatches[0].got, reg.model.predict(reg.features.to_numpy())[0])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_server_is_a_stage_failure(clf: Served, tmp_path: Path) -> None:
    expected = expected_file(clf, tmp_path / "predictions.csv")
    with pytest.raises(SmokeTestError, match=r"not ready within 0\.5s.*Connection refused") as info:
        smoke_test(
            f"127.0.0.1:{_closed_port()}",
            "clf",
            clf.test_csv,
            "label",
            expected,
            ready_timeout_s=0.5,
        )
    assert isinstance(info.value, StageFailure)


def test_unknown_model_never_becomes_ready(clf: Served, tmp_path: Path) -> None:
    expected = expected_file(clf, tmp_path / "predictions.csv")
    with pytest.raises(SmokeTestError, match="'nope' was not ready"):
        smoke_test(clf.address, "nope", clf.test_csv, "label", expected, ready_timeout_s=0.3)


def test_refused_rows_are_a_stage_failure(clf: Served, tmp_path: Path) -> None:
    expected = expected_file(clf, tmp_path / "predictions.csv")
    bad = clf.test.copy()
    bad.loc[5, "a"] = 99.0  # outside the schema's range
    bad.to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(SmokeTestError, match=r"refused a request.*column 'a' fails in_range"):
        smoke_test(clf.address, "clf", tmp_path / "test.csv", "label", expected, batch_size=10)
