"""Drift and the other comparisons of the candidate's training data with the baseline's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mlci_action.worker.checks import run
from mlci_action.worker.checks.common import ks
from tests.worker.checks.helpers import (
    find,
    frame,
    project,
    settings,
)


def test_drift_on_a_shifted_numeric_column(tmp_path: Path) -> None:
    report = run(project(tmp_path, baseline=frame(seed=3), train=frame(seed=1, shift=1.5)))

    drift = {check["column"]: check for check in find(report, "feature_drift")}
    assert "species" not in drift  # the target is not a feature
    assert drift["width"]["passed"] is False
    assert drift["width"]["severity"] == "warning"
    assert drift["width"]["statistic"] > drift["width"]["threshold"] == 0.2
    assert drift["length"]["passed"] is True
    assert report["passed"] is True  # a warning never fails the report


def test_drift_on_a_categorical_column(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[:150, "colour"] = "red"
    checks = settings({"drift": {"fail_on_drift": True}})

    report = run(project(tmp_path, train=train, baseline=frame(seed=3), checks=checks))

    colour = find(report, "feature_drift", column="colour")[0]
    assert colour["passed"] is False
    assert colour["severity"] == "error"
    assert colour["statistic"] > 0.2
    assert colour["detail"].startswith("PSI")
    assert report["passed"] is False


def test_added_and_removed_columns_are_reported(tmp_path: Path) -> None:
    train = frame(seed=1).rename(columns={"colour": "hue"})

    report = run(project(tmp_path, train=train, baseline=frame(seed=3)))

    (columns,) = find(report, "feature_columns")
    assert columns["passed"] is False
    assert columns["detail"] == (
        "added: hue; removed: colour (tune: data.checks.drift.fail_on_drift)"
    )


def test_identical_baseline_data_is_unchanged(tmp_path: Path) -> None:
    request = project(tmp_path, baseline=frame(seed=9))
    shutil.copyfile(tmp_path / "train.csv", tmp_path / "baseline.csv")

    report = run(request)

    drift = [check for check in report["checks"] if check["kind"] == "drift"]
    assert [(c["passed"], c["detail"]) for c in drift] == [(True, "data unchanged")]


def test_ks_statistic_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(5)
    for a, b in (
        (rng.normal(size=500), rng.normal(0.3, size=700)),
        (rng.integers(0, 5, 300).astype(float), rng.integers(0, 6, 200).astype(float)),
        (np.array([1.0]), np.array([1.0, 2.0])),
    ):
        assert ks(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-15)


def test_a_missing_baseline_file_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    request = dict(project(tmp_path), baseline_train_path="old/train.csv")

    report = run(request)

    (drift,) = [check for check in report["checks"] if check["kind"] == "drift"]
    assert (drift["passed"], drift["severity"]) == (False, "warning")
    assert "drift not checked" in drift["detail"] and "not found" in drift["detail"]
    assert report["passed"] is True
