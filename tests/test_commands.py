"""`mlci init`, `mlci validate` and the `mlci` entry point's error handling."""

from __future__ import annotations

import shutil

import pytest
import yaml

from mlci_action.cli import main
from mlci_action.config import load_config
from tests.conftest import EXAMPLES, git


def init_args(project, target: str) -> list[str]:
    return [
        "init",
        str(project),
        "--train",
        "data/train.csv",
        "--test",
        "data/test.csv",
        "--target",
        target,
    ]


@pytest.fixture(autouse=True)
def local_executor(cache_env, monkeypatch):
    """`mlci validate` builds the project's environment, as `mlci run` does: a uv venv here."""
    monkeypatch.setenv("MLCI_EXECUTOR", "local")


def test_validate_accepts_the_examples(capsys):
    for example in ("classification", "regression"):
        assert main(["validate", str(EXAMPLES / example)]) == 0
        assert "valid" in capsys.readouterr().err


def test_validate_reports_schema_failures_with_exit_1(tmp_path, capsys):
    project = tmp_path / "p"
    shutil.copytree(EXAMPLES / "regression", project)
    train = project / "data" / "train.csv"
    lines = train.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("age")] = "-40"
    lines[1] = ",".join(row)
    train.write_text("\n".join(lines) + "\n")
    assert main(["validate", str(project)]) == 1
    err = capsys.readouterr().err
    assert "age" in err and "-40" in err and "invalid" in err


PYARROW_SCHEMA = """\
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series


class BreastCancerSchema(pa.DataFrameModel):
    diagnosis: Series[pd.StringDtype("pyarrow")] = pa.Field(coerce=True)
"""


def test_validate_loads_the_schema_in_the_projects_environment(make_project, capsys):
    """mlci itself has pyarrow; the project's environment does not: run would fail, and so
    does validate, at once and with exit 2, before anything is trained."""
    project = make_project("classification")
    (project / "schema.py").write_text(PYARROW_SCHEMA)
    assert main(["validate", str(project)]) == 2
    err = capsys.readouterr().err
    assert "schema.py" in err and "pyarrow" in err and "requirements" in err
    assert "train" not in err
    assert not (project / ".mlci").exists()  # validate writes nothing


def test_validate_with_a_baseline_runs_the_comparing_checks_and_trains_nothing(
    make_project, capsys
):
    project = make_project("regression")
    config = project / "mlci.yaml"
    config.write_text(config.read_text().replace("alpha: 1.0", "alpha: 0.5"))
    git(project, "commit", "--quiet", "-am", "weaker regularisation")
    assert main(["validate", str(project), "--base", "HEAD~1"]) == 0
    err = capsys.readouterr().err
    stages = [line.split()[1] for line in err.splitlines() if line[:1] in "✔✘–♻"]
    assert stages == ["source", "environment", "data_tests"]  # the same stages run runs first
    assert "baseline HEAD~1" in err and "feature_drift" in err  # baseline→candidate
    assert "valid" in err and "nothing was trained" in err


def test_validate_fails_a_stage_with_exit_1_and_says_so(make_project, capsys):
    project = make_project("classification")
    (project / "requirements.txt").write_text("no-such-package-for-mlci-tests==1.0\n")
    assert main(["validate", str(project)]) == 1
    err = capsys.readouterr().err
    assert "✘ environment" in err and "no-such-package-for-mlci-tests" in err
    assert "invalid: environment failed" in err


def test_init_scaffolds_a_config_and_schema_that_validate(tmp_path, capsys):
    project = tmp_path / "my-model"
    (project / "data").mkdir(parents=True)
    for name in ("train.csv", "test.csv"):
        shutil.copy(EXAMPLES / "regression" / "data" / name, project / "data" / name)
    code = main(init_args(project, "progression"))
    assert code == 0, capsys.readouterr().err
    config = load_config(project)
    assert config.name == "my-model" and config.evaluation.task == "regression"
    assert config.training.estimator == "sklearn.ensemble.HistGradientBoostingRegressor"
    schema = yaml.safe_load((project / "schema.yaml").read_text())
    assert "progression" in schema["columns"] and "index" not in schema
    assert (project / "requirements.txt").is_file()
    assert main(["validate", str(project)]) == 0
    # never overwrite without --force
    assert main(init_args(project, "progression")) == 2
    assert "already exists" in capsys.readouterr().err


def test_init_infers_classification_and_rejects_a_missing_target(tmp_path, capsys):
    project = tmp_path / "clf"
    shutil.copytree(EXAMPLES / "classification" / "data", project / "data")
    assert main(init_args(project, "diagnosis")) == 0
    assert load_config(project).evaluation.task == "classification"
    other = tmp_path / "other"
    shutil.copytree(EXAMPLES / "classification" / "data", other / "data")
    assert main(init_args(other, "nope")) == 2
    assert "target column 'nope'" in capsys.readouterr().err
    assert not (other / "mlci.yaml").exists()


def test_init_writes_the_workflow(tmp_path, capsys):
    import yaml as pyyaml

    project = tmp_path / "repo" / "model"
    shutil.copytree(EXAMPLES / "classification" / "data", project / "data")
    args = [
        "init",
        str(project),
        "--train",
        "data/train.csv",
        "--test",
        "data/test.csv",
        "--target",
        "diagnosis",
    ]
    assert main([*args, "--workflow"]) == 0, capsys.readouterr().err
    workflow = pyyaml.safe_load((project / ".github" / "workflows" / "mlci.yml").read_text())
    step = workflow["jobs"]["mlci"]["steps"][1]
    assert (
        step["with"]["config"] == "."
        and step["with"]["registry-password"] == "${{ secrets.GITHUB_TOKEN }}"
    )
    assert workflow["permissions"]["contents"] == "read"


def test_champion_takes_no_baseline_and_ships_nothing(tmp_path, capsys):
    project = tmp_path / "p"
    shutil.copytree(EXAMPLES / "classification", project)
    for extra in (["--push"], ["--package"], ["--base", "HEAD~1"]):
        assert main(["run", str(project), "--champion", *extra]) == 2
        err = capsys.readouterr().err
        assert "--champion scores the model in production alone" in err, extra
    assert not (project / ".mlci").exists()


def test_run_on_a_missing_directory_exits_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "absent")]) == 2
    assert "not a directory" in capsys.readouterr().err
