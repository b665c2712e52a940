"""Leakage: test rows that are also training rows, named by their lines in both files."""

from __future__ import annotations

from pathlib import Path

from mlci_action.worker.checks import run
from tests.worker.checks.helpers import (
    cited,
    find,
    frame,
    line,
    project,
    settings,
)


def test_leakage_counts_test_rows_found_in_train(tmp_path: Path) -> None:
    train, test = frame(seed=1), frame(seed=2)
    test.iloc[[4, 10, 12]] = train.iloc[[0, 1, 2]].to_numpy()

    report = run(project(tmp_path, train, test))

    (leakage,) = find(report, "leakage")
    assert leakage["passed"] is False
    assert leakage["dataset"] == "train→test"
    (failure,) = leakage["failures"]
    assert (failure["count"], failure["file"]) == (3, "test.csv")
    # each copy named by its line in both files: test row 4 is line 6, train row 0 line 2
    places = [example.split(": ")[0] for example in failure["examples"]]
    assert places == [
        "line 6 = train.csv line 2",
        "line 12 = train.csv line 3",
        "line 14 = train.csv line 4",
    ]
    for example in failure["examples"]:
        test_line, train_line = (
            cited(part) for part in example.split(": ")[0].split(" = train.csv ")
        )
        assert line(tmp_path / "test.csv", test_line) == line(tmp_path / "train.csv", train_line)
    assert report["passed"] is False


def test_leakage_within_the_allowance_passes(tmp_path: Path) -> None:
    train, test = frame(seed=1), frame(seed=2)
    test.iloc[[4]] = train.iloc[[0]].to_numpy()
    checks = settings({"leakage": {"max_rows": 1}})

    report = run(project(tmp_path, train, test, checks=checks))

    assert find(report, "leakage")[0]["passed"] is True


def test_genuine_repeats_are_told_which_setting_allows_them(tmp_path: Path) -> None:
    """Data with few distinct values repeats rows honestly: the message says what to set."""
    train, test = frame(seed=1), frame(seed=2)
    test.iloc[[7, 8]] = train.iloc[[5, 6]].to_numpy()

    report = run(project(tmp_path, train, test))

    (leakage,) = find(report, "leakage")
    assert leakage["setting"] == "data.checks.leakage.max_rows"
    assert "allow them with data.checks.leakage.max_rows: 2" in leakage["detail"]
    assert leakage["detail"].endswith("(tune: data.checks.leakage.max_rows)")
