"""Constant columns: a feature with one value in every training row."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlci_action.worker.checks import run
from tests.worker.checks.helpers import find, frame, project, settings


def test_a_constant_column_fails_and_names_its_value(tmp_path: Path) -> None:
    """A real data bug: a join that failed silently left one value in every row."""
    train = frame(seed=1).assign(region="unknown", score=np.nan)

    report = run(project(tmp_path, train=train))

    (check,) = find(report, "constant")
    assert check["passed"] is False
    assert check["setting"] == "data.checks.constant.enabled"
    by_column = {f["column"]: f for f in check["failures"]}
    assert set(by_column) == {"region", "score"}  # missing in every row is one value too
    assert by_column["region"]["count"] == len(train)
    assert by_column["region"]["examples"] == [
        f"every row, line 2 to line {len(train) + 1}: 'unknown'"
    ]
    assert by_column["score"]["examples"][0].endswith(": (missing)")
    assert report["passed"] is False


def test_the_target_and_varying_columns_are_not_constant(tmp_path: Path) -> None:
    train = frame(seed=1).assign(species="a")  # a one-class target: the target checks' concern
    train.loc[0, "colour"] = None

    report = run(project(tmp_path, train=train, checks=settings({"target": {"enabled": False}})))

    (check,) = find(report, "constant")
    assert check["passed"] is True
