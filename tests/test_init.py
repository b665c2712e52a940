"""`mlci init` on realistic data: what it writes validates, trains and says the right things."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from mlci_action.cli import main
from mlci_action.config import load_config
from mlci_action.scaffold.gitignore import with_entry
from mlci_action.scaffold.numbers import round_out
from tests.conftest import git
from tests.datasets import Dataset, houses, penguins, shoppers


@pytest.fixture(autouse=True)
def _session_cache(cache_env: dict[str, str]) -> None:
    """The session's cache: the environment `mlci init`'s requirements.txt asks for is built
    once for this module and tests/test_first_hour.py, not again in the user's own cache."""


def init(dataset: Dataset, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = main([*dataset.init_args(), *extra])
    err = capsys.readouterr().err
    assert code == 0, err
    return err


def schema_of(dataset: Dataset) -> dict:
    return yaml.safe_load((dataset.project / "schema.yaml").read_text())["columns"]


def frames(dataset: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(dataset.train_path), pd.read_csv(dataset.test_path)


def assert_validates(dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(dataset.project)])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()


def test_penguins_schema_is_loadable_and_covers_both_files(tmp_path, capsys):
    pytest.importorskip("pyarrow")  # the trap: pandas would call text string[pyarrow]
    dataset = penguins(tmp_path / "penguins")
    init(dataset, capsys)
    columns = schema_of(dataset)
    train, test = frames(dataset)
    for name in ("island", "sex", "species"):
        assert columns[name]["dtype"] == "str"
        both = pd.concat([train[name], test[name]]).dropna()
        assert columns[name]["isin"] == sorted(both.unique())
    assert columns["sex"]["nullable"] and not columns["island"]["nullable"]
    assert "pyarrow" not in (dataset.project / "schema.yaml").read_text()
    for name in ("bill_length_mm", "body_mass_g"):
        low, high = columns[name]["in_range"].values()
        both = pd.concat([train[name], test[name]])
        assert columns[name]["nullable"] and low >= 0
        assert low < both.min() and both.max() < high  # train AND test, widened
    assert_validates(dataset, capsys)


def test_penguins_without_train_py_fits_a_preprocessing_estimator(tmp_path, capsys):
    dataset = penguins(tmp_path / "penguins")
    err = init(dataset, capsys)
    config = load_config(dataset.project)
    training, evaluation = config.training, config.evaluation
    assert training.command is None and training.preprocess == "auto"
    assert training.estimator == "sklearn.ensemble.HistGradientBoostingClassifier"
    assert evaluation.task == "classification" and evaluation.metrics == ["accuracy", "f1_macro"]
    _, test = frames(dataset)
    gate = config.gates["accuracy"]
    majority = test["species"].value_counts(normalize=True).iloc[0]
    assert majority <= gate.threshold < majority + 1e-4  # what always predicting it scores
    one_row = 1 / len(test)
    assert gate.max_regression == max(0.01, math.ceil(one_row * 10_000) / 10_000) >= one_row
    text = (dataset.project / "mlci.yaml").read_text()
    assert f"one row of the {len(test)}-row test set is {gate.max_regression:.4f}" in text
    assert ".mlci/" in (dataset.project / ".gitignore").read_text().splitlines()
    assert "mlci validate" in err and "mlci run" in err and "git -C" in err
    assert "mlci.yaml schema.yaml requirements.txt .gitignore" in err


def test_a_train_py_or_a_command_is_what_trains(tmp_path, capsys):
    dataset = penguins(tmp_path / "penguins")
    (dataset.project / "train.py").write_text("print('training')\n")
    init(dataset, capsys)
    training = load_config(dataset.project).training
    assert training.command == "python train.py" and training.estimator is None
    init(dataset, capsys, "--force", "--command", "python -m model.fit --seed {seed}")
    assert load_config(dataset.project).training.command == "python -m model.fit --seed {seed}"


def test_imbalanced_binary_gates_ranking_not_accuracy(tmp_path, capsys):
    dataset = shoppers(tmp_path / "shop")
    init(dataset, capsys)
    config = load_config(dataset.project)
    evaluation = config.evaluation
    assert evaluation.positive_class == "bought"  # the minority: no label says "positive"
    assert {"roc_auc", "average_precision", "recall", "precision", "accuracy"} == set(
        evaluation.metrics
    )
    assert set(config.gates) == {"roc_auc", "average_precision"}  # accuracy shown, not gated
    _, test = frames(dataset)
    positives = int((test["outcome"] == "bought").sum())
    prevalence = positives / len(test)
    ap, auc = config.gates["average_precision"], config.gates["roc_auc"]
    assert ap.threshold is not None and ap.threshold > prevalence
    assert auc.threshold is not None and auc.threshold > 0.5
    assert ap.max_regression == auc.max_regression and ap.max_regression >= 1 / positives
    text = (dataset.project / "mlci.yaml").read_text()
    assert "accuracy is shown but not gated" in text and "knows nothing" in text
    assert schema_of(dataset)["outcome"]["isin"] == ["bought", "not_bought"]
    assert_validates(dataset, capsys)


def test_balanced_binary_names_its_positive_class_and_quotes_it(tmp_path, capsys):
    dataset = penguins(tmp_path / "adelie")
    for path in (dataset.train_path, dataset.test_path):
        frame = pd.read_csv(path)
        frame["species"] = np.where(frame["species"] == "Adelie", "yes", "no")
        frame.to_csv(path, index=False)
    init(dataset, capsys)
    evaluation = load_config(dataset.project).evaluation
    assert evaluation.positive_class == "yes"  # a string, though YAML 1.1 reads yes as true
    assert {"roc_auc", "log_loss"} <= set(evaluation.metrics)


def test_regression_gates_and_ordered_categories(tmp_path, capsys):
    dataset = houses(tmp_path / "houses")
    init(dataset, capsys)
    config = load_config(dataset.project)
    assert config.evaluation.task == "regression"
    assert config.training.estimator == "sklearn.ensemble.HistGradientBoostingRegressor"
    assert config.gates["r2"].threshold == 0 and config.evaluation.positive_class is None
    assert config.gates["rmse"].max_relative_regression == 0.05
    columns = schema_of(dataset)
    train, test = frames(dataset)
    assert columns["condition"]["isin"] == sorted(train["condition"].unique())
    assert columns["garden"] == {"dtype": "str", "nullable": True, "isin": ["no", "yes"]}
    assert isinstance(columns["rooms"]["in_range"]["min_value"], int)
    assert columns["price"]["in_range"]["max_value"] > max(
        train["price"].max(), test["price"].max()
    )
    assert_validates(dataset, capsys)


def test_checks_are_tuned_to_what_the_data_has(tmp_path, capsys):
    dataset = penguins(tmp_path / "real")
    train, test = frames(dataset)
    test = pd.concat([test, train.iloc[[3, 4]]], ignore_index=True)  # two genuine repeats
    train = pd.concat([train, train.iloc[[10]]], ignore_index=True)  # one within train
    train["year"] = 2007  # constant in the training file
    test["year"] = 2007
    test.loc[0, "island"] = "Dreem"  # a category only the test file has
    train.to_csv(dataset.train_path, index=False)
    test.to_csv(dataset.test_path, index=False)
    err = init(dataset, capsys)
    checks = load_config(dataset.project).data.checks
    assert checks.leakage.max_rows == 2
    assert train.duplicated().mean() <= checks.duplicates.max_share < 2 * train.duplicated().mean()
    assert checks.categories.max_rows == 1 and not checks.constant.enabled
    text = (dataset.project / "mlci.yaml").read_text()
    assert "2 genuine duplicate rows between train and test in the data init saw" in text
    assert "island" in text and "year" in text
    assert "data.checks.leakage" in err
    assert "Dreem" in schema_of(dataset)["island"]["isin"]
    assert_validates(dataset, capsys)


def test_gitignore_is_appended_once():
    assert with_entry(None) is not None and ".mlci/" in (with_entry(None) or "")
    existing = "__pycache__/\n*.pyc"
    appended = with_entry(existing) or ""
    assert appended.startswith(existing + "\n") and appended.splitlines()[-1] == ".mlci/"
    assert with_entry(appended) is None and with_entry("/.mlci\n") is None


def test_init_keeps_an_existing_gitignore(tmp_path, capsys):
    dataset = penguins(tmp_path / "p")
    (dataset.project / ".gitignore").write_text("data/raw/\n")
    init(dataset, capsys)
    init(dataset, capsys, "--force")
    lines = (dataset.project / ".gitignore").read_text().splitlines()
    assert lines[0] == "data/raw/" and lines.count(".mlci/") == 1


@pytest.mark.parametrize("value", [0.00123456, 0.9, 1.0, 32.14, 59.61, 6660.0, -17.3, 123456.0])
def test_round_out_moves_away_from_the_data(value):
    down, up = round_out(value, up=False), round_out(value, up=True)
    assert down <= value <= up
    for bound in (down, up):
        digits = f"{abs(bound):.6e}".split("e")[0].replace(".", "").rstrip("0")
        assert len(digits) <= 2, bound


@pytest.mark.e2e  # a minute on a busy 2-core machine: two trainings and the data tests
def test_init_then_run_on_penguins_passes_without_edits(tmp_path, capsys, monkeypatch):
    """The first hour: init, commit, run (no baseline), run again against the commit."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # 2 shared cores: OpenMP spinning costs 10x
    dataset = penguins(tmp_path / "penguins")
    init(dataset, capsys)
    project = dataset.project
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "mlci")
    environ = {
        "MLCI_EXECUTOR": "current",
        "MLCI_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
        "OMP_NUM_THREADS": "1",
    }
    for args in ([], ["--base", "HEAD"]):
        code = main(["run", str(project), *args], environ=environ)
        assert code == 0, capsys.readouterr().err
    run = json.loads((project / ".mlci" / "out" / "run.json").read_text())
    assert run["verdict"] == "pass" and run["metrics"]["accuracy"]["candidate"] > 0.9
    assert git(project, "status", "--porcelain") == ""  # .mlci/ is ignored
    assert (project / ".mlci" / "out" / "models" / "candidate.skops").is_file()
