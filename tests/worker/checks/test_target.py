"""Target checks: missing labels, unseen and rare classes, shifts of the target."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlci_action.worker.checks import run
from mlci_action.worker.checks.common import ks
from tests.worker.checks.helpers import (
    cited,
    find,
    frame,
    line,
    project,
    settings,
)


def test_unseen_test_class_fails(tmp_path: Path) -> None:
    test = frame(seed=2)
    test.loc[[0, 1], "species"] = "d"

    report = run(project(tmp_path, test=test))

    (unseen,) = find(report, "unseen_classes")
    assert unseen["passed"] is False
    assert unseen["failures"][0]["examples"] == ["line 2: 'd'", "line 3: 'd'"]
    assert unseen["failures"][0]["count"] == 2
    assert all(
        line(tmp_path / "test.csv", cited(example)).endswith(",d")
        for example in unseen["failures"][0]["examples"]
    )
    assert report["passed"] is False


def test_target_missing_share_and_class_balance(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[:9, "species"] = None
    train.loc[10:12, "species"] = "rare"
    checks = settings({"target": {"max_missing": 0.01, "min_class_share": 0.05}})

    report = run(project(tmp_path, train=train, checks=checks))

    missing = find(report, "target_missing", dataset="train")[0]
    assert missing["passed"] is False
    assert missing["statistic"] == pytest.approx(0.05)
    balance = find(report, "class_balance")[0]
    assert balance["passed"] is False
    assert balance["failures"][0]["examples"][0].startswith("rare: ")


def test_regression_target_shift_uses_ks(tmp_path: Path) -> None:
    train = frame(seed=1)
    test = frame(seed=2, shift=2.0)

    report = run(project(tmp_path, train, test, task="regression", target="width"))

    (shift,) = find(report, "target_shift")
    assert shift["passed"] is False
    assert shift["statistic"] > 0.25
    assert shift["detail"].startswith("KS statistic")


def test_rows_without_a_target_are_named_by_line(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[[3, 30], "species"] = None

    report = run(project(tmp_path, train=train))

    missing = find(report, "target_missing", dataset="train")[0]
    assert missing["passed"] is False
    assert missing["setting"] == "data.checks.target.max_missing"
    (failure,) = missing["failures"]
    assert (failure["count"], failure["file"]) == (2, "train.csv")
    assert failure["examples"] == ["line 5: (missing)", "line 32: (missing)"]
    for example in failure["examples"]:
        assert line(tmp_path / "train.csv", cited(example)).endswith(",")  # the empty last field


def test_a_class_share_change_against_the_baseline_fails(tmp_path: Path) -> None:
    """A real data bug: a new export filtered most rows of one class away."""
    baseline = frame(seed=3)
    train = frame(seed=1)
    train.loc[train.index[:120], "species"] = "a"

    report = run(project(tmp_path, train=train, baseline=baseline))

    (shift,) = find(report, "target_baseline_shift")
    old = pd.read_csv(tmp_path / "baseline.csv")["species"].value_counts(normalize=True)
    new = pd.read_csv(tmp_path / "train.csv")["species"].value_counts(normalize=True)
    p, q = old.align(new, fill_value=0.0)
    assert shift["statistic"] == pytest.approx(0.5 * (p - q).abs().sum())
    assert shift["statistic"] > shift["threshold"] == 0.1
    assert (shift["passed"], shift["severity"], shift["dataset"]) == (
        False,
        "error",
        "baseline→candidate",
    )
    assert shift["setting"] == "data.checks.target.max_baseline_shift"
    assert shift["detail"].endswith("(tune: data.checks.target.max_baseline_shift)")
    assert shift["failures"][0]["examples"][0].startswith("'a': ")
    assert report["passed"] is False


def test_the_baseline_shift_limit_is_a_setting(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[train.index[:120], "species"] = "a"
    checks = settings({"target": {"max_baseline_shift": 1.0}})

    report = run(project(tmp_path, train=train, baseline=frame(seed=3), checks=checks))

    assert find(report, "target_baseline_shift")[0]["passed"] is True


def test_a_regression_target_against_the_baseline_uses_ks(tmp_path: Path) -> None:
    report = run(
        project(
            tmp_path,
            train=frame(seed=1, shift=2.0),
            baseline=frame(seed=3),
            task="regression",
            target="width",
        )
    )

    (shift,) = find(report, "target_baseline_shift")
    old = pd.read_csv(tmp_path / "baseline.csv")["width"].to_numpy()
    new = pd.read_csv(tmp_path / "train.csv")["width"].to_numpy()
    assert shift["statistic"] == pytest.approx(ks(old, new))
    assert shift["passed"] is False
    assert shift["detail"].startswith("KS statistic")
