"""The positive class through the real CLI: refused at entry (exit 2, before any training)
when the labels do not name it, and scored as configured when they do."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CURRENT = {"MLCI_EXECUTOR": "current"}


def project(
    tmp_path: Path,
    labels: tuple[object, object],
    *,
    positive: str | None = None,
    metrics: str = "[accuracy, f1, recall, roc_auc, average_precision]",
    estimator: str = "sklearn.linear_model.LogisticRegression",
    params: str = "{}",
    suffix: str = ".csv",
) -> Path:
    """A project of real files: two informative features, a target of the given labels."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 2))
    y = np.where(x[:, 0] + 0.5 * rng.normal(size=240) > 0, 1, 0)
    frame = pd.DataFrame(
        {"x1": x[:, 0], "x2": x[:, 1], "target": np.asarray(labels, dtype=object)[y]}
    )
    (tmp_path / "data").mkdir()
    for name, part in (("train", frame.iloc[:160]), ("test", frame.iloc[160:])):
        path = tmp_path / "data" / f"{name}{suffix}"
        part.to_parquet(path) if suffix == ".parquet" else part.to_csv(path, index=False)
    extra = f"  positive_class: {positive}\n" if positive is not None else ""
    (tmp_path / "mlci.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        name: shop
        data:
          train: data/train{suffix}
          test: data/test{suffix}
          target: target
        environment:
          executor: current
        training:
          estimator: {estimator}
          params: {params}
        evaluation:
          task: classification
          metrics: {metrics}
        """)
        + extra
    )
    return tmp_path


@pytest.mark.parametrize("command", ["validate", "run"])
def test_labels_without_an_obvious_positive_class_exit_2_before_training(tmp_path, mlci, command):
    root = project(tmp_path, ("not_bought", "bought"))
    done = mlci(command, str(root), env=CURRENT)
    assert done.returncode == 2, done.stderr
    assert (
        "target column 'target': labels 'bought' and 'not_bought' give no obvious positive class"
        in done.stderr
    )
    assert "set evaluation.positive_class in mlci.yaml" in done.stderr
    assert str(root / "data" / "train.csv") in done.stderr
    assert "Traceback" not in done.stderr
    assert not (root / ".mlci").exists()  # nothing trained, nothing written


def test_a_configured_class_that_is_not_a_label_exits_2(tmp_path, mlci):
    root = project(tmp_path, ("not_bought", "bought"), positive="Bought", suffix=".parquet")
    done = mlci("validate", str(root), env=CURRENT)
    assert done.returncode == 2, done.stderr
    assert "evaluation.positive_class is 'Bought', which is not one of the 2 labels" in done.stderr


def test_a_binary_metric_on_three_classes_exits_2_with_the_metric_to_use(tmp_path, mlci):
    root = project(tmp_path, ("a", "b"), metrics="[accuracy, recall]")
    train = root / "data" / "train.csv"
    text = train.read_text().splitlines()
    text[1] = text[1].rsplit(",", 1)[0] + ",c"
    train.write_text("\n".join(text) + "\n")
    done = mlci("validate", str(root), env=CURRENT)
    assert done.returncode == 2, done.stderr
    assert "holds 3 classes, but metric 'recall'" in done.stderr
    assert "recall_macro" in done.stderr


@pytest.mark.parametrize(
    ("labels", "positive"),
    [((0, 1), None), (("no", "yes"), None), (("not_bought", "bought"), "bought")],
)
def test_obvious_or_configured_labels_validate(tmp_path, mlci, labels, positive):
    done = mlci("validate", str(project(tmp_path, labels, positive=positive)), env=CURRENT)
    assert done.returncode == 0, done.stderr


def test_a_model_that_never_predicts_the_positive_class_has_recall_zero(tmp_path, mlci):
    root = project(
        tmp_path,
        ("not_bought", "bought"),
        positive="bought",
        metrics="[accuracy, recall, f1, average_precision]",
        estimator="sklearn.dummy.DummyClassifier",
        params="{strategy: constant, constant: not_bought}",
    )
    done = mlci("run", str(root), env=CURRENT)
    run = json.loads((root / ".mlci" / "out" / "run.json").read_text())
    assert run["positive_class"] == "bought", done.stderr
    test = pd.read_csv(root / "data" / "test.csv")
    share = (test["target"] == "bought").mean()
    metrics = run["metrics"]
    assert metrics["recall"]["candidate"] == 0.0  # the label that sorts second would give 1.0
    assert metrics["f1"]["candidate"] == 0.0
    assert metrics["accuracy"]["candidate"] == pytest.approx(1 - share)
    # a constant score ranks nothing: average precision is the share of positives
    assert metrics["average_precision"]["candidate"] == pytest.approx(share)
    report = (root / ".mlci" / "out" / "report.md").read_text()
    assert "positive class: 'bought' (binary metrics)" in report
    assert "positive class: 'bought'" in done.stderr
