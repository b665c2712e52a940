"""The first hour of a new user (issue 10), through the real CLI on data nobody prepared:
``mlci init`` → ``mlci validate`` → ``mlci run`` with no hand edits, then the data bugs real
data has, each caught with the file, the column and the line, before anything trains."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import git
from tests.datasets import Dataset, penguins, shoppers

# two shared cores: OpenMP threads of two trainings fighting each other cost 10x
QUIET = {"OMP_NUM_THREADS": "1"}
CURRENT = {**QUIET, "MLCI_EXECUTOR": "current"}


def read_run(project: Path) -> dict:
    return json.loads((project / ".mlci" / "out" / "run.json").read_text())


def initialised(dataset: Dataset, mlci: Callable[..., object]) -> Path:
    done = mlci(*dataset.init_args())
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    project = dataset.project
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "mlci init")
    return project


def line_of(path: Path, line: int) -> list[str]:
    """The cells of a CSV file's line (1 = the header), as a user opening the file sees it."""
    with path.open(newline="") as handle:
        return list(csv.reader(handle))[line - 1]


@pytest.mark.e2e  # builds the project's uv environment once per session (shared cache)
def test_init_validate_run_in_the_projects_environment_passes_without_edits(tmp_path, mlci):
    project = initialised(penguins(tmp_path / "penguins"), mlci)

    validated = mlci("validate", str(project), env=QUIET)  # the local executor: a uv venv
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "valid" in validated.stderr and "nothing was trained" in validated.stderr

    done = mlci("run", str(project), env=QUIET)
    assert done.returncode == 0, done.stdout + done.stderr
    run = read_run(project)
    assert run["verdict"] == "pass"
    assert run["environment"]["executor"] == "local"
    assert run["metrics"]["accuracy"]["candidate"] > 0.9
    assert git(project, "status", "--porcelain") == ""  # .mlci/ is ignored by what init wrote


# --- the data bugs --------------------------------------------------------------------------


def _typo_in_train_class(data: Dataset) -> tuple[str, str, list[int]]:
    frame = pd.read_csv(data.train_path)
    rows = frame.index[frame["species"] == "Adelie"][:2].tolist()
    frame.loc[rows, "species"] = "Adelei"
    frame.to_csv(data.train_path, index=False)
    return data.train, "species", [r + 2 for r in rows]


def _category_only_in_test(data: Dataset) -> tuple[str, str, list[int]]:
    frame = pd.read_csv(data.test_path)
    frame.loc[3, "island"] = "Torgersen Island"
    frame.to_csv(data.test_path, index=False)
    return data.test, "island", [5]


def _negative_value(data: Dataset) -> tuple[str, str, list[int]]:
    frame = pd.read_csv(data.test_path)
    frame.loc[10, "body_mass_g"] = -3800.0
    frame.to_csv(data.test_path, index=False)
    return data.test, "body_mass_g", [12]


def _duplicated_rows(data: Dataset) -> tuple[str, str | None, list[int]]:
    frame = pd.read_csv(data.train_path)
    frame = pd.concat([frame, frame.iloc[[4, 4, 4]]], ignore_index=True)
    frame.to_csv(data.train_path, index=False)
    rows = len(frame)
    return data.train, None, [6, rows - 1, rows, rows + 1]


def _extra_column(data: Dataset) -> tuple[str, str, list[int]]:
    frame = pd.read_csv(data.test_path)
    frame["weighed_by"] = "intern"
    frame.to_csv(data.test_path, index=False)
    return data.test, "weighed_by", []


BUGS = {
    "a typo'd class in two training rows": _typo_in_train_class,
    "a category only in test": _category_only_in_test,
    "a negative value": _negative_value,
    "duplicated rows": _duplicated_rows,
    "an extra column in the test file": _extra_column,
}


@pytest.fixture(scope="module")
def clean_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A penguins project as `mlci init` wrote it (made once; each test copies it)."""
    from mlci_action.cli import main

    dataset = penguins(tmp_path_factory.mktemp("first-hour") / "penguins")
    assert main([*dataset.init_args()]) == 0
    return dataset.project


def _copy(clean: Path, where: Path) -> Dataset:
    import shutil

    shutil.copytree(clean, where, ignore=shutil.ignore_patterns(".mlci"))
    return Dataset(where, "species")


def test_the_project_as_init_wrote_it_validates(clean_project, tmp_path, mlci):
    """What each data bug below starts from is clean (checked once here, not once per bug)."""
    data = _copy(clean_project, tmp_path / "penguins")
    checked = mlci("validate", str(data.project), env=CURRENT)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_data_bug_fails_before_training_naming_file_column_and_lines(
    bug, clean_project, tmp_path, mlci
):
    data = _copy(clean_project, tmp_path / "penguins")
    file, column, lines = BUGS[bug](data)

    checked = mlci("validate", str(data.project), env=CURRENT)
    assert checked.returncode == 1, checked.stdout + checked.stderr

    done = mlci("run", str(data.project), env=CURRENT)
    assert done.returncode == 1, done.stdout + done.stderr
    run = read_run(data.project)
    assert run["verdict"] == "fail"
    assert run["stages"]["train"]["status"] == "skipped"  # the data failed first: no training
    failed = [c for c in run["data"]["checks"] if not c["passed"] and c["severity"] == "error"]
    assert failed, run["data"]
    assert all(c["setting"] for c in failed)  # every failing check names what tunes it
    text = json.dumps(failed)
    assert file in text
    if column is not None:
        assert column in text
    cited = {
        int(number)
        for c in failed
        for f in c["failures"]
        for example in f["examples"]
        for numbers in re.findall(r"\blines? (\d+(?:, \d+)*)", example)
        for number in numbers.split(", ")
    }
    for line in lines:
        assert line in cited, (line, cited, text)
        assert line_of(data.project / file, line)  # the line exists in the file as named


def test_a_header_only_file_exits_2_before_anything_runs(clean_project, tmp_path, mlci):
    data = _copy(clean_project, tmp_path / "penguins")
    header = data.train_path.read_text().splitlines()[0]
    data.train_path.write_text(header + "\n")

    done = mlci("run", str(data.project), env=CURRENT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "train.csv" in done.stderr and "no data rows" in done.stderr
    assert not (data.project / ".mlci" / "out" / "run.json").exists()  # nothing half-written
    assert not list((data.project / ".mlci").glob("**/train-candidate.log"))  # nothing trained


# --- an imbalanced target --------------------------------------------------------------------


def _set_training(project: Path, estimator: str, params: dict[str, object]) -> None:
    path = project / "mlci.yaml"
    config = yaml.safe_load(path.read_text())
    config["training"]["estimator"] = estimator
    config["training"]["params"] = params
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.e2e  # three trainings on 2,000 rows
def test_imbalanced_gates_fail_the_majority_model_and_pass_a_recall_gain(tmp_path, mlci):
    project = initialised(shoppers(tmp_path / "shoppers"), mlci)
    config = yaml.safe_load((project / "mlci.yaml").read_text())
    assert config["evaluation"]["positive_class"] == "bought"
    assert "accuracy" not in config["gates"]  # shown, not gated

    _set_training(project, "sklearn.dummy.DummyClassifier", {"strategy": "prior"})
    lazy = mlci("run", str(project), "--base", "HEAD", env=CURRENT)
    assert lazy.returncode == 1, lazy.stdout + lazy.stderr
    run = read_run(project)
    failed = {g["metric"] for g in run["gates"] if not g["passed"]}
    assert {"roc_auc", "average_precision"} <= failed
    # always "not_bought": an accuracy over 0.9 that no gate is fooled by, and recall 0 of the
    # class that matters
    assert run["metrics"]["accuracy"]["candidate"] > 0.9
    assert run["metrics"]["recall"]["candidate"] == 0.0
    git(project, "checkout", "--quiet", "--", "mlci.yaml")

    weighted = dict(config["training"].get("params") or {}, class_weight="balanced")
    _set_training(project, config["training"]["estimator"], weighted)
    git(project, "commit", "--quiet", "-am", "weigh the buyers")
    better = mlci("run", str(project), "--base", "HEAD~1", env=CURRENT)
    assert better.returncode == 0, better.stdout + better.stderr
    metrics = read_run(project)["metrics"]
    assert metrics["recall"]["delta"] > 0 and metrics["accuracy"]["delta"] < 0
