"""The worker's evaluate task (and train-estimator, which feeds it) on real models and files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import LinearSVC

from mlci_action.errors import InputError, StageFailure
from mlci_action.record import Evaluation
from mlci_action.worker import evaluate, train_estimator
from mlci_action.worker.modelio import load_model, save_model

BOOT = {"resamples": 300, "confidence": 0.95, "seed": 0}


def write_split(
    tmp_path: Path, task: str = "classification", labels: list[str] | None = None
) -> tuple[Path, Path]:
    if task == "classification":
        X, y = make_classification(n_samples=300, n_features=5, n_informative=3, random_state=0)
        target: Any = np.asarray(labels, dtype=object)[y] if labels else y
    else:
        X, target = make_regression(n_samples=300, n_features=5, noise=10.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).assign(target=target)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:200].to_csv(train, index=False)
    frame.iloc[200:].to_csv(test, index=False)
    return train, test


def fit_and_save(model: Any, train: Path, path: Path) -> str:
    frame = pd.read_csv(train)
    model.fit(frame.drop(columns=["target"]), frame["target"])
    return str(save_model(model, path))


def request(test: Path, tmp_path: Path, candidate: str, baseline: str | None, **extra: Any) -> dict:
    base = {
        "test_path": str(test),
        "target": "target",
        "task": "classification",
        "metrics": ["accuracy", "f1_macro"],
        "bootstrap": BOOT,
        "candidate_model": candidate,
        "baseline_model": baseline,
        "trusted_types": [],
        "predictions_path": str(tmp_path / "out" / "predictions.csv"),
    }
    return {**base, **extra}


@pytest.fixture
def classifiers(tmp_path: Path) -> tuple[Path, str, str]:
    train, test = write_split(tmp_path)
    good = fit_and_save(LogisticRegression(), train, tmp_path / "good.skops")
    dummy = fit_and_save(DummyClassifier(strategy="most_frequent"), train, tmp_path / "dummy.skops")
    return test, good, dummy


def test_a_better_candidate(tmp_path: Path, classifiers: tuple[Path, str, str]) -> None:
    test, good, dummy = classifiers
    metrics = ["accuracy", "f1_macro", "roc_auc", "log_loss"]
    result = evaluate.run(request(test, tmp_path, good, dummy, metrics=metrics))
    evaluation = Evaluation.model_validate(result)
    assert evaluation.rows == 100
    assert list(evaluation.metrics) == metrics

    frame = pd.read_csv(test)
    model: Any = load_model(good, [])
    X, y = frame.drop(columns=["target"]), frame["target"]
    accuracy = evaluation.metrics["accuracy"]
    assert accuracy.candidate == pytest.approx(skm.accuracy_score(y, model.predict(X)))
    dummy_model: Any = load_model(dummy, [])
    assert accuracy.baseline == pytest.approx(skm.accuracy_score(y, dummy_model.predict(X)))
    candidate, baseline, delta = accuracy.candidate, accuracy.baseline, accuracy.delta
    assert candidate is not None and baseline is not None and delta is not None
    assert delta == pytest.approx(candidate - baseline)
    assert accuracy.ci_low is not None and accuracy.ci_high is not None
    assert 0 < accuracy.ci_low <= delta <= accuracy.ci_high
    assert accuracy.significant is True and accuracy.greater_is_better is True

    auc = evaluation.metrics["roc_auc"]
    assert auc.candidate == pytest.approx(skm.roc_auc_score(y, model.predict_proba(X)[:, 1]))
    assert auc.baseline == pytest.approx(0.5)
    loss = evaluation.metrics["log_loss"]
    assert loss.greater_is_better is False and loss.delta is not None and loss.delta < 0

    predictions = pd.read_csv(evaluation.predictions_file or "")
    assert list(predictions.columns) == ["prediction", "proba_0", "proba_1"]
    np.testing.assert_array_equal(predictions["prediction"], model.predict(X))
    np.testing.assert_allclose(predictions[["proba_0", "proba_1"]], model.predict_proba(X))


def test_the_same_request_gives_the_same_result(
    tmp_path: Path, classifiers: tuple[Path, str, str]
) -> None:
    test, good, dummy = classifiers
    assert evaluate.run(request(test, tmp_path, good, dummy)) == evaluate.run(
        request(test, tmp_path, good, dummy)
    )


def test_the_same_model_on_both_sides(tmp_path: Path, classifiers: tuple[Path, str, str]) -> None:
    test, good, _ = classifiers
    result = Evaluation.model_validate(evaluate.run(request(test, tmp_path, good, good)))
    for metric in result.metrics.values():
        assert metric.delta == 0.0
        assert metric.significant is False
        if metric.test == "mcnemar":  # unconditional: agreeing on these rows rules out only so much
            assert metric.ci_low is not None and metric.ci_high is not None
            assert metric.ci_low == pytest.approx(-metric.ci_high) and metric.ci_high > 0
        else:
            assert (metric.ci_low, metric.ci_high) == (0.0, 0.0)


def test_without_baseline(tmp_path: Path, classifiers: tuple[Path, str, str]) -> None:
    test, good, _ = classifiers
    result = Evaluation.model_validate(evaluate.run(request(test, tmp_path, good, None)))
    accuracy = result.metrics["accuracy"]
    assert accuracy.candidate is not None
    assert (accuracy.baseline, accuracy.delta, accuracy.ci_low, accuracy.significant) == (
        None,
        None,
        None,
        None,
    )


def test_without_bootstrap(tmp_path: Path, classifiers: tuple[Path, str, str]) -> None:
    test, good, dummy = classifiers
    boot = {**BOOT, "resamples": 0}
    result = Evaluation.model_validate(
        evaluate.run(request(test, tmp_path, good, dummy, bootstrap=boot))
    )
    # the bootstrap's metric has no interval; accuracy's exact test (McNemar) needs no resamples
    f1 = result.metrics["f1_macro"]
    assert f1.delta is not None and f1.ci_low is None and f1.significant is None and f1.test is None
    accuracy = result.metrics["accuracy"]
    assert accuracy.test == "mcnemar" and accuracy.ci_low is not None
    assert accuracy.ci_low <= accuracy.delta <= accuracy.ci_high


def test_text_labels_and_binary_f1(tmp_path: Path) -> None:
    train, test = write_split(tmp_path, labels=["no", "yes"])
    good = fit_and_save(LogisticRegression(), train, tmp_path / "good.skops")
    result = evaluate.run(request(test, tmp_path, good, None, metrics=["f1", "brier_score"]))
    frame = pd.read_csv(test)
    model: Any = load_model(good, [])
    predicted = model.predict(frame.drop(columns=["target"]))
    f1 = result["metrics"]["f1"]["candidate"]
    assert f1 == pytest.approx(skm.f1_score(frame["target"], predicted, pos_label="yes"))
    assert list(pd.read_csv(result["predictions_file"]).columns) == [
        "prediction",
        "proba_no",
        "proba_yes",
    ]


def test_regression(tmp_path: Path) -> None:
    train, test = write_split(tmp_path, task="regression")
    ridge = fit_and_save(Ridge(), train, tmp_path / "ridge.skops")
    mean = fit_and_save(DummyRegressor(), train, tmp_path / "mean.skops")
    metrics = ["rmse", "mae", "r2", "mse"]
    result = Evaluation.model_validate(
        evaluate.run(request(test, tmp_path, ridge, mean, task="regression", metrics=metrics))
    )
    rmse, r2 = result.metrics["rmse"], result.metrics["r2"]
    assert rmse.candidate == pytest.approx(math.sqrt(result.metrics["mse"].candidate or 0))
    assert rmse.greater_is_better is False
    assert rmse.ci_high is not None and rmse.ci_high < 0 and rmse.significant is True
    assert r2.greater_is_better is True and r2.ci_low is not None and r2.ci_low > 0
    assert list(pd.read_csv(result.predictions_file or "").columns) == ["prediction"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_a_nan_metric_fails(tmp_path: Path, classifiers: tuple[Path, str, str]) -> None:
    test, good, _ = classifiers
    one_class = tmp_path / "one_class.csv"
    frame = pd.read_csv(test)
    frame[frame["target"] == 1].to_csv(one_class, index=False)
    with pytest.raises(
        StageFailure, match="metric roc_auc is NaN for the candidate model"
    ) as caught:
        evaluate.run(request(one_class, tmp_path, good, None, metrics=["roc_auc"]))
    assert "only one class" in (caught.value.hint or "")


def test_a_probability_metric_needs_predict_proba(tmp_path: Path) -> None:
    train, test = write_split(tmp_path)
    svc = fit_and_save(LinearSVC(), train, tmp_path / "svc.skops")
    with pytest.raises(StageFailure, match="'roc_auc' needs predicted probabilities") as caught:
        evaluate.run(request(test, tmp_path, svc, None, metrics=["accuracy", "roc_auc"]))
    assert "candidate" in caught.value.message
    # label metrics are fine without it
    result = evaluate.run(request(test, tmp_path, svc, None, metrics=["accuracy"]))
    assert list(pd.read_csv(result["predictions_file"]).columns) == ["prediction"]


def test_a_model_that_cannot_predict_on_the_test_file(
    tmp_path: Path, classifiers: tuple[Path, str, str]
) -> None:
    test, good, _ = classifiers
    fewer = tmp_path / "fewer.csv"
    pd.read_csv(test).drop(columns=["f4"]).to_csv(fewer, index=False)
    with pytest.raises(StageFailure, match=r"candidate model .* failed in predict") as caught:
        evaluate.run(request(fewer, tmp_path, good, None))
    assert "f4" in caught.value.message


def test_train_then_evaluate(tmp_path: Path) -> None:
    train, test = write_split(tmp_path)
    model_path = tmp_path / "trained" / "model.skops"
    trained = train_estimator.run(
        {
            "train_path": str(train),
            "target": "target",
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 10},
            "seed": 7,
            "model_path": str(model_path),
        }
    )
    assert trained == {
        "model_path": str(model_path),
        "rows": 200,
        "estimator": trained["estimator"],
    }
    model: Any = load_model(model_path, [])
    assert model.random_state == 7 and model.n_estimators == 10
    result = evaluate.run(request(test, tmp_path, str(model_path), None))
    assert result["metrics"]["accuracy"]["candidate"] > 0.7


def train_request(tmp_path: Path, estimator: str, params: dict) -> dict:
    train, _ = write_split(tmp_path)
    return {
        "train_path": str(train),
        "target": "target",
        "estimator": estimator,
        "params": params,
        "seed": 0,
        "model_path": str(tmp_path / "model.skops"),
    }


@pytest.mark.parametrize(
    "estimator", ["sklearn.ensemble.RandomForestClassifer", "nosuchpkg.Model", "Model"]
)
def test_train_with_a_bad_import_path(tmp_path: Path, estimator: str) -> None:
    with pytest.raises(
        InputError, match=f"training.estimator: cannot import {estimator}"
    ) as caught:
        train_estimator.run(train_request(tmp_path, estimator, {}))
    assert "import path" in (caught.value.hint or "")


def test_train_with_a_bad_param(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has no parameter 'n_estimatorz'") as caught:
        train_estimator.run(
            train_request(tmp_path, "sklearn.ensemble.RandomForestClassifier", {"n_estimatorz": 3})
        )
    assert "n_estimators" in (caught.value.hint or "")


def test_train_with_a_bad_param_value(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="n_estimators"):
        train_estimator.run(
            train_request(
                tmp_path, "sklearn.ensemble.RandomForestClassifier", {"n_estimators": "ten"}
            )
        )
    assert not (tmp_path / "model.skops").exists()


def test_the_configured_positive_class_is_scored_and_recorded(tmp_path: Path) -> None:
    train, test = write_split(tmp_path, labels=["bought", "not_bought"])
    good = fit_and_save(LogisticRegression(), train, tmp_path / "good.skops")
    dummy = fit_and_save(DummyClassifier(strategy="prior"), train, tmp_path / "dummy.skops")
    metrics = ["recall", "average_precision", "brier_score"]
    result = Evaluation.model_validate(
        evaluate.run(request(test, tmp_path, good, dummy, metrics=metrics, positive_class="bought"))
    )
    assert result.positive_class == "bought"
    frame = pd.read_csv(test)
    model: Any = load_model(good, [])
    X, y = frame.drop(columns=["target"]), frame["target"]
    bought = list(model.classes_).index("bought")
    recall = result.metrics["recall"]
    assert recall.candidate == pytest.approx(
        skm.recall_score(y, model.predict(X), pos_label="bought")
    )
    assert result.metrics["average_precision"].candidate == pytest.approx(
        skm.average_precision_score(y == "bought", model.predict_proba(X)[:, bought])
    )
    assert recall.confidence == BOOT["confidence"] and recall.ci_low is not None

    with pytest.raises(InputError, match="no obvious positive class"):
        evaluate.run(request(test, tmp_path, good, dummy, metrics=metrics))
    # metrics that need no positive class do not ask for one
    plain = evaluate.run(request(test, tmp_path, good, dummy, metrics=["accuracy", "log_loss"]))
    assert plain["positive_class"] is None


@pytest.mark.parametrize(
    ("configured", "recorded"), [("auto", "multinomial"), ("poisson", "poisson")]
)
def test_the_record_says_how_resamples_were_drawn(
    tmp_path: Path, classifiers: tuple[Path, str, str], configured: str, recorded: str
) -> None:
    test, good, dummy = classifiers
    boot = {**BOOT, "method": configured}
    result = Evaluation.model_validate(
        evaluate.run(request(test, tmp_path, good, dummy, bootstrap=boot))
    )
    assert result.bootstrap_method == recorded
    accuracy = result.metrics["accuracy"]
    assert accuracy.ci_low is not None and accuracy.ci_high is not None
    alone = Evaluation.model_validate(evaluate.run(request(test, tmp_path, good, None)))
    assert alone.bootstrap_method is None  # no comparison, no resamples


def test_slices_of_the_test_file(tmp_path: Path, classifiers: tuple[Path, str, str]) -> None:
    test, good, dummy = classifiers
    found = Evaluation.model_validate(
        evaluate.run(request(test, tmp_path, good, dummy, slices=["f0 >= 0", "target"]))
    )
    frame = pd.read_csv(test)
    names = [part.name for part in found.slices]
    assert names == ["f0 >= 0", *[f"target = {v}" for v in frame["target"].value_counts().index]]
    assert found.slices[0].rows == int((frame["f0"] >= 0).sum())
    assert sum(part.rows for part in found.slices[1:]) == len(frame)
    part = found.slices[0]
    assert (
        part.metrics["accuracy"].test == "mcnemar" and part.metrics["f1_macro"].test == "bootstrap"
    )


@pytest.mark.parametrize(
    ("spec", "words"),
    [("age >= 65", "names column 'age', which the test file does not have"), ("f0 == 'x'", None)],
)
def test_a_slice_the_test_file_cannot_make(
    tmp_path: Path, classifiers: tuple[Path, str, str], spec: str, words: str | None
) -> None:
    test, good, dummy = classifiers
    if words is None:  # a string against numbers: an empty slice, no values, no crash
        found = Evaluation.model_validate(
            evaluate.run(request(test, tmp_path, good, dummy, slices=[spec]))
        )
        assert found.slices[0].rows == 0 and found.slices[0].too_small == "0 rows (fewer than 30)"
        return
    with pytest.raises(InputError, match=words):
        evaluate.run(request(test, tmp_path, good, dummy, slices=[spec]))


class TieBreakingForest:
    """Stands for a subclass or a look-alike: not on the argmax list, whatever its name."""


@pytest.mark.parametrize("labels", [None, ["cat", "dog", "owl"]])
def test_labels_from_probabilities_equal_the_models_own_predict(labels):
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=600, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    target = np.asarray(labels, dtype=object)[y] if labels else y
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    fit, test = frame.iloc[:400], frame.iloc[400:]
    models = [
        HistGradientBoostingClassifier(max_iter=20, random_state=0),
        RandomForestClassifier(n_estimators=15, random_state=0),
        ExtraTreesClassifier(n_estimators=15, random_state=0),
        make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=15, random_state=0)),
        make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=20)),
    ]
    for model in models:
        model.fit(fit, target[:400])
        assert evaluate._argmax_predicts(model)
        side = evaluate._predict(model, "candidate", test, ["roc_auc"], True)
        np.testing.assert_array_equal(side.labels, model.predict(test))
        assert side.labels.dtype == model.predict(test).dtype
        np.testing.assert_array_equal(side.proba, model.predict_proba(test))
    logistic = LogisticRegression(max_iter=500).fit(fit, target[:400])
    assert not evaluate._argmax_predicts(logistic)  # its predict is the decision function's
    assert not evaluate._argmax_predicts(TieBreakingForest())


def test_boosting_labels_follow_its_raw_scores_where_probabilities_tie():
    """HistGradientBoosting's predict is ``raw > 0`` for two classes: a raw score of 1e-17 is
    class 1, though its probabilities round to [0.5, 0.5], whose argmax is class 0. The one
    pass keeps the model's own rule, so the evaluation's labels are predict's, bit for bit."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = make_classification(n_samples=300, n_features=4, random_state=2)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    model = HistGradientBoostingClassifier(max_iter=10).fit(frame, y)
    tiny = np.where(np.arange(len(frame)) % 2 == 0, 1e-17, -1e-17)[:, None]
    model._raw_predict = lambda rows: tiny[: len(rows)]  # predict and predict_proba use it
    assert (model.predict_proba(frame)[::2] == 0.5).all()  # a tie in the probabilities
    side = evaluate._predict(model, "candidate", frame, ["roc_auc"], True)
    np.testing.assert_array_equal(side.labels, model.predict(frame))
    assert side.labels[0] == 1 and side.labels[1] == 0


def test_a_model_whose_predict_disagrees_gets_the_two_calls():
    """Where the one pass disagrees with predict on the first rows (a scikit-learn that
    changed its rule), the evaluation falls back to predict and predict_proba."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=300, n_features=4, random_state=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, y)
    flipped = 1 - RandomForestClassifier.predict(model, frame)
    model.predict = lambda rows: flipped[: len(rows)]
    side = evaluate._predict(model, "candidate", frame, ["roc_auc"], True)
    np.testing.assert_array_equal(side.labels, flipped)
