"""Columns: the train and test files have the same columns."""

from __future__ import annotations

from pathlib import Path

from mlci_action.worker.checks import run
from tests.worker.checks.helpers import find, frame, line, project, settings


def test_an_extra_column_in_the_test_file_fails(tmp_path: Path) -> None:
    """A real data bug: the test export kept a column the training export dropped."""
    test = frame(seed=2)
    test.insert(2, "row_id", range(len(test)))

    report = run(project(tmp_path, test=test))

    (check,) = find(report, "columns")
    assert (check["passed"], check["severity"]) == (False, "error")
    assert check["setting"] == "data.checks.columns.strict"
    assert check["detail"] == (
        "1 column of test.csv not in train.csv: 'row_id' (tune: data.checks.columns.strict)"
    )
    (failure,) = check["failures"]
    assert (failure["check"], failure["column"], failure["file"]) == (
        "not_in_train",
        "row_id",
        "test.csv",
    )
    assert failure["examples"] == ["header, column 3: 'row_id'"]
    assert line(tmp_path / "test.csv", 1).split(",")[2] == "row_id"
    assert report["passed"] is False


def test_a_missing_column_is_named_in_the_file_that_has_it(tmp_path: Path) -> None:
    test = frame(seed=2).drop(columns=["colour"])

    report = run(project(tmp_path, test=test))

    (check,) = find(report, "columns")
    (failure,) = check["failures"]
    assert (failure["check"], failure["column"], failure["file"]) == (
        "not_in_test",
        "colour",
        "train.csv",
    )


def test_not_strict_makes_a_column_difference_a_warning(tmp_path: Path) -> None:
    test = frame(seed=2).assign(extra=1.0)
    checks = settings({"columns": {"strict": False}})

    report = run(project(tmp_path, test=test, checks=checks))

    (check,) = find(report, "columns")
    assert (check["passed"], check["severity"]) == (False, "warning")
    assert report["passed"] is True
