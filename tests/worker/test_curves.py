"""The chart data of the report, from real models' predictions on real files, checked against
scikit-learn's own curves and counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.datasets import make_classification
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlci_action.record import Evaluation
from mlci_action.worker import evaluate
from mlci_action.worker.curves import GRID, classification_curves, regression_curves
from tests.worker.test_evaluate import fit_and_save, request, write_split


def curves_of(result: dict[str, Any]) -> Any:
    curves = Evaluation.model_validate(result).curves
    assert curves is not None
    return curves


def test_binary_curves_follow_sklearn(tmp_path: Path) -> None:
    train, test = write_split(tmp_path, labels=["no", "yes"])
    good = fit_and_save(LogisticRegression(), train, tmp_path / "good.skops")
    tree = fit_and_save(
        DecisionTreeClassifier(max_depth=2, random_state=0), train, tmp_path / "t.skops"
    )
    curves = curves_of(evaluate.run(request(test, tmp_path, good, tree, metrics=["accuracy"])))
    kinds = {chart.kind: chart for chart in curves.charts}
    assert set(kinds) == {"roc", "precision_recall", "calibration"}

    frame = pd.read_csv(test)
    hits = frame["target"] == "yes"
    model: Any = LogisticRegression().fit(
        pd.read_csv(train).drop(columns=["target"]), pd.read_csv(train)["target"]
    )
    score = model.predict_proba(frame.drop(columns=["target"]))[:, 1]
    roc = kinds["roc"]
    assert roc.candidate_area is not None
    assert abs(roc.candidate_area - skm.roc_auc_score(hits, score)) < 1e-4
    fpr, tpr, _ = skm.roc_curve(hits, score)
    assert np.allclose(roc.candidate, np.interp(GRID, fpr, tpr), atol=1e-3)
    assert roc.baseline is not None and len(roc.baseline) == len(roc.x) <= 25
    # precision is the upper envelope: never rising with recall
    pr = kinds["precision_recall"]
    assert all(a >= b for a, b in zip(pr.candidate, pr.candidate[1:], strict=False))
    calibration = kinds["calibration"]
    assert all(0 <= y <= 1 for y in calibration.candidate)

    matrix = curves.confusion
    assert matrix is not None and matrix.baseline is not None
    assert sum(map(sum, matrix.candidate)) == len(frame)
    expected = skm.confusion_matrix(
        frame["target"], model.predict(frame.drop(columns=["target"])), labels=matrix.labels
    )
    assert matrix.candidate == expected.tolist()
    assert curves.per_class == []


def test_multiclass_table_and_folded_matrix() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([f"class {k}" for k in range(40)], dtype=object)
    truth = labels[np.minimum(rng.geometric(0.1, 2000) - 1, 39)]
    noisy = np.where(rng.random(2000) < 0.8, truth, labels[rng.integers(0, 40, 2000)])
    curves = classification_curves(truth, [noisy, truth], [None, None], None, None)
    assert curves.charts == []
    matrix = curves.confusion
    assert matrix is not None and matrix.other and matrix.labels[-1] == "other"
    assert len(matrix.labels) == 13
    assert sum(map(sum, matrix.candidate)) == 2000
    assert matrix.baseline is not None
    assert sum(matrix.baseline[k][k] for k in range(13)) == 2000  # the baseline is the truth
    assert len(curves.per_class) == 30 and curves.classes_omitted == 10
    supports = [row.support for row in curves.per_class]
    assert supports == sorted(supports, reverse=True)
    first = curves.per_class[0]
    p, r, f, _ = skm.precision_recall_fscore_support(
        truth == first.label, noisy == first.label, average="binary"
    )
    assert np.allclose(first.candidate, (p, r, f), atol=1e-4)
    assert first.baseline == (1.0, 1.0, 1.0)


def test_regression_curves(tmp_path: Path) -> None:
    train, test = write_split(tmp_path, task="regression")
    good = fit_and_save(LinearRegression(), train, tmp_path / "lin.skops")
    dummy = fit_and_save(DummyRegressor(), train, tmp_path / "dummy.skops")
    result = evaluate.run(
        request(test, tmp_path, good, dummy, task="regression", metrics=["rmse"], bootstrap={})
    )
    kinds = {chart.kind: chart for chart in curves_of(result).charts}
    assert set(kinds) == {"predicted_vs_actual", "residuals", "error_by_decile"}
    residuals = kinds["residuals"]
    assert residuals.baseline is not None
    assert sum(residuals.candidate) == sum(residuals.baseline) == 100
    deciles = kinds["error_by_decile"]
    assert deciles.x == [float(k) for k in range(1, 11)]
    assert deciles.baseline is not None
    # the mean predictor is worst at the extremes of the target, better in the middle
    assert deciles.baseline[0] > deciles.baseline[4] < deciles.baseline[9]
    versus = kinds["predicted_vs_actual"]
    assert versus.x == sorted(versus.x) and versus.reference == versus.x


def test_degenerate_inputs_give_no_charts() -> None:
    assert regression_curves(np.array([1.0]), [np.array([1.0])]).charts == []
    one_class = classification_curves(
        np.array([1, 1, 1]), [np.array([1, 1, 1])], [np.ones((3, 2))], np.array([0, 1]), 1
    )
    assert one_class.charts == []  # no negative: no ROC
    assert one_class.confusion is not None and one_class.confusion.candidate == [[3]]


def test_classes_without_probabilities() -> None:
    _, y = make_classification(n_samples=60, n_features=3, n_redundant=0, random_state=1)
    curves = classification_curves(y, [np.zeros_like(y)], [None], np.array([0, 1]), 1)
    assert curves.charts == []  # no probabilities: the confusion matrix only
    assert curves.confusion is not None
    assert sum(row[1] for row in curves.confusion.candidate) == 0  # nothing predicted as 1


def test_confusion_matrices_equal_sklearns_with_the_rare_classes_folded() -> None:
    """Counted by code (one pass, not a Python loop over rows): the same cells as scikit-learn,
    the classes past MAX_MATRIX summed into ``other``; labels of mixed types match by value."""
    rng = np.random.default_rng(4)
    names = np.array([f"c{k}" for k in range(15)], dtype=object)
    truth = names[np.minimum(rng.geometric(0.25, 3000) - 1, 14)]
    pred = np.where(rng.random(3000) < 0.6, truth, names[rng.integers(0, 15, 3000)])
    found = classification_curves(truth, [pred], [None], None, None).confusion
    assert found is not None and found.other and found.labels[-1] == "other"
    shown = found.labels[:-1]
    fold = np.vectorize(lambda label: label if label in shown else "other", otypes=[object])
    expected = skm.confusion_matrix(fold(truth), fold(pred), labels=found.labels)
    assert found.candidate == expected.tolist()
    mixed = classification_curves(
        np.array([1, 0, 1]), [np.array([1.0, 1.0, 0.0])], [None], None, None
    )
    assert mixed.confusion is not None and mixed.confusion.candidate == [[1, 1], [1, 0]]
