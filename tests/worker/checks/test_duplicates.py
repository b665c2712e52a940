"""Duplicates: rows that repeat an earlier row of the same file, with the lines of every copy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlci_action.worker.checks import run
from tests.worker.checks.helpers import find, frame, line, project, settings


def test_duplicated_rows_name_the_lines_of_every_copy(tmp_path: Path) -> None:
    """A real data bug: an export appended a batch twice."""
    train = frame(seed=1)
    train = pd.concat([train, train.iloc[[10, 11]]], ignore_index=True)
    train.iloc[50] = train.iloc[10]  # a third copy of row 10

    report = run(project(tmp_path, train=train))

    check = find(report, "duplicates", dataset="train")[0]
    assert check["passed"] is False
    assert check["statistic"] == 3 / len(train)
    assert check["setting"] == "data.checks.duplicates.max_share"
    assert check["detail"].endswith("(tune: data.checks.duplicates.max_share)")
    (failure,) = check["failures"]
    assert (failure["count"], failure["file"]) == (3, "train.csv")
    first, second = failure["examples"]
    assert first.startswith("lines 12, 52, 202: (")
    assert second.startswith("lines 13, 203: (")
    for numbers in ((12, 52, 202), (13, 203)):  # the cited lines hold one row, copied
        assert len({line(tmp_path / "train.csv", n) for n in numbers}) == 1
    assert find(report, "duplicates", dataset="test")[0]["passed"] is True


def test_a_share_of_duplicates_can_be_allowed(tmp_path: Path) -> None:
    test = frame(seed=2)
    test.iloc[1] = test.iloc[0]
    checks = settings({"duplicates": {"max_share": 0.01}})

    report = run(project(tmp_path, test=test, checks=checks))

    check = find(report, "duplicates", dataset="test")[0]
    assert check["passed"] is True
    assert check["statistic"] == 1 / len(test)
    assert check["failures"][0]["examples"][0].startswith("lines 2, 3: ")
