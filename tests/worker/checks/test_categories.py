"""Categories: values of a categorical column (or the target's classes) that only one file has."""

from __future__ import annotations

from pathlib import Path

from mlci_action.worker.checks import run
from tests.worker.checks.helpers import cited, find, frame, line, project, settings


def test_a_typo_in_the_target_class_of_two_training_rows(tmp_path: Path) -> None:
    """A real data bug: 'b' typed as 'bb' in two training rows; the test data never has it."""
    train = frame(seed=1)
    train.loc[[12, 77], "species"] = "bb"

    report = run(project(tmp_path, train=train))

    (check,) = find(report, "categories")
    assert check["passed"] is False
    assert check["setting"] == "data.checks.categories.max_rows"
    assert check["detail"].endswith("(tune: data.checks.categories.max_rows)")
    (failure,) = check["failures"]
    assert (failure["check"], failure["column"], failure["count"], failure["file"]) == (
        "not_in_test",
        "species",
        2,
        "train.csv",
    )
    assert failure["examples"] == ["line 14: 'bb'", "line 79: 'bb'"]
    for example in failure["examples"]:
        assert line(tmp_path / "train.csv", cited(example)).endswith(",bb")
    assert report["passed"] is False


def test_a_category_only_in_the_test_file(tmp_path: Path) -> None:
    """A real data bug: the test export has a colour the training data never saw."""
    test = frame(seed=2)
    test.loc[[5, 6, 90], "colour"] = "Red "  # a trailing space is a different category

    report = run(project(tmp_path, test=test))

    (check,) = find(report, "categories")
    (failure,) = check["failures"]
    assert (failure["check"], failure["column"], failure["count"], failure["file"]) == (
        "not_in_train",
        "colour",
        3,
        "test.csv",
    )
    assert failure["examples"] == ["line 7: 'Red '", "line 8: 'Red '", "line 92: 'Red '"]
    header = line(tmp_path / "test.csv", 1).split(",")
    for example in failure["examples"]:
        assert line(tmp_path / "test.csv", cited(example)).split(",")[header.index("colour")] == (
            "Red "
        )


def test_the_targets_test_only_classes_are_left_to_the_target_check(tmp_path: Path) -> None:
    test = frame(seed=2)
    test.loc[[0, 1], "species"] = "d"

    report = run(project(tmp_path, test=test))

    assert find(report, "categories")[0]["passed"] is True
    assert find(report, "unseen_classes")[0]["passed"] is False


def test_max_rows_and_max_levels_are_settings(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[[12, 77], "colour"] = "mauve"
    train["code"] = [f"c{i}" for i in range(len(train))]  # an ID: not categorical

    report = run(
        project(
            tmp_path,
            train=train,
            test=frame(seed=2).assign(code="c0"),
            checks=settings({"categories": {"max_rows": 2}, "columns": {"enabled": False}}),
        )
    )

    (check,) = find(report, "categories")
    assert check["passed"] is True
    assert check["statistic"] == 2
    assert "1 left out with more than 50 values (code" in check["detail"]


def test_new_categories_against_the_baseline_are_a_warning(tmp_path: Path) -> None:
    train = frame(seed=1)
    train.loc[[3, 4], "colour"] = "teal"
    test = frame(seed=2)
    test.loc[[3, 4], "colour"] = "teal"

    report = run(project(tmp_path, train=train, test=test, baseline=frame(seed=3)))

    (check,) = find(report, "new_categories")
    assert (check["passed"], check["severity"], check["dataset"]) == (
        False,
        "warning",
        "baseline→candidate",
    )
    (failure,) = check["failures"]
    assert (failure["column"], failure["count"], failure["file"]) == ("colour", 2, "train.csv")
    assert failure["examples"] == ["line 5: 'teal'", "line 6: 'teal'"]
    assert find(report, "categories")[0]["passed"] is True
    assert report["passed"] is True
