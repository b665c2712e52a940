from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlci_action.errors import InputError, StageFailure
from mlci_action.metrics import CATALOG
from mlci_action.worker.resampling import Method, weight_chunks
from mlci_action.worker.scoring import (
    bootstrap_deltas,
    bootstrap_deltas_all,
    metric_values,
    paired_bootstrap,
    paired_bootstrap_all,
)

CLASSIFICATION = [n for n, s in CATALOG.items() if s.task == "classification"]
REGRESSION = [n for n, s in CATALOG.items() if s.task == "regression"]
BINARY_ONLY = {n for n, s in CATALOG.items() if s.needs_positive}


def classified(classes: int = 2, rows: int = 90, labels: list[str] | None = None) -> dict:
    """A real model and a weaker one, scored on held-out rows."""
    X, y = make_classification(
        n_samples=rows + 150,
        n_features=6,
        n_informative=4,
        n_classes=classes,
        n_clusters_per_class=1,
        random_state=classes,
    )
    if labels is not None:
        y = np.asarray(labels, dtype=object)[y]
    train, test = slice(0, 150), slice(150, None)
    good = LogisticRegression(max_iter=500).fit(X[train], y[train])
    weak = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X[train], y[train])
    return {
        "y_true": y[test],
        "pred_c": good.predict(X[test]),
        "proba_c": good.predict_proba(X[test]),
        "pred_b": weak.predict(X[test]),
        "proba_b": weak.predict_proba(X[test]),
        "classes": good.classes_,
    }


def regressed(rows: int = 90) -> dict:
    X, y = make_regression(n_samples=rows + 150, n_features=5, noise=20.0, random_state=1)
    y = y + 500.0  # keep mape well defined
    good = LinearRegression().fit(X[:150], y[:150])
    weak = DummyRegressor().fit(X[:150], y[:150])
    return {
        "y_true": y[150:],
        "pred_c": good.predict(X[150:]),
        "proba_c": None,
        "pred_b": weak.predict(X[150:]),
        "proba_b": None,
        "classes": None,
    }


def cases() -> list[tuple[str, str]]:
    found = [(name, "regression") for name in REGRESSION]
    found += [(name, "binary") for name in CLASSIFICATION]
    found += [(name, "text-binary") for name in CLASSIFICATION]
    found += [(name, "multiclass") for name in CLASSIFICATION if name not in BINARY_ONLY]
    return found


def data(kind: str) -> dict:
    if kind == "regression":
        return regressed()
    if kind == "multiclass":
        return classified(classes=3)
    return classified(labels=["no", "yes"] if kind == "text-binary" else None)


@pytest.mark.parametrize(
    ("name", "kind", "method"),
    [(*case, "multinomial") for case in cases()]
    + [(*case, "poisson") for case in cases() if case[1] in ("binary", "regression")],
)
def test_fast_path_equals_the_sklearn_loop(name: str, kind: str, method: Method) -> None:
    """The loop is scikit-learn on the explicitly resampled rows (np.repeat by the weights);
    the label metrics on the row weights too (their per-category draws: tests below)."""
    inputs = data(kind)
    fast = bootstrap_deltas(name, **inputs, resamples=60, seed=3, method=method, categories=False)
    loop = bootstrap_deltas(
        name, **inputs, resamples=60, seed=3, fast=False, method=method, categories=False
    )
    assert fast.shape == loop.shape == (60,)
    np.testing.assert_allclose(fast, loop, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isfinite(fast).any()


def test_fast_path_drops_the_same_undefined_resamples_as_sklearn() -> None:
    y = np.array([0] * 14 + [1] * 2)  # many resamples hold no positive row
    rng = np.random.default_rng(0)
    proba_c, proba_b = rng.random(16), rng.random(16)
    args = {
        "y_true": y,
        "pred_c": (proba_c > 0.5).astype(int),
        "proba_c": np.c_[1 - proba_c, proba_c],
        "pred_b": (proba_b > 0.5).astype(int),
        "proba_b": np.c_[1 - proba_b, proba_b],
        "classes": np.array([0, 1]),
    }
    fast = bootstrap_deltas("roc_auc", **args, resamples=200, seed=1)
    loop = bootstrap_deltas("roc_auc", **args, resamples=200, seed=1, fast=False)
    assert np.isnan(fast).sum() > 5
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(loop))
    np.testing.assert_allclose(fast, loop, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", ["accuracy", "f1_macro", "roc_auc", "rmse"])
def test_same_seed_same_interval(name: str) -> None:
    inputs = regressed() if name == "rmse" else classified()
    first = paired_bootstrap(name, **inputs, resamples=300, confidence=0.95, seed=7)
    again = paired_bootstrap(name, **inputs, resamples=300, confidence=0.95, seed=7)
    other = paired_bootstrap(name, **inputs, resamples=300, confidence=0.95, seed=8)
    assert first == again
    assert first != other


def explicit(rows: int, resamples: int, seed: int, method: Method = "multinomial") -> list:
    """Each resample as the explicit list of drawn rows (each row repeated by its weight)."""
    weights = np.concatenate(list(weight_chunks(rows, resamples, seed, method)))
    return [np.repeat(np.arange(rows), row) for row in weights]


SKLEARN: dict[str, Any] = {
    "accuracy": lambda y, pred, p: skm.accuracy_score(y, pred),
    "f1": lambda y, pred, p: skm.f1_score(y, pred),
    "f1_macro": lambda y, pred, p: skm.f1_score(y, pred, average="macro"),
    "balanced_accuracy": lambda y, pred, p: skm.balanced_accuracy_score(y, pred),
    "roc_auc": lambda y, pred, p: skm.roc_auc_score(y, p[:, 1]),
    "average_precision": lambda y, pred, p: skm.average_precision_score(y, p[:, 1]),
    "log_loss": lambda y, pred, p: skm.log_loss(y, p, labels=[0, 1]),
    "brier_score": lambda y, pred, p: skm.brier_score_loss(y, p[:, 1]),
    "mae": lambda y, pred, p: skm.mean_absolute_error(y, pred),
    "rmse": lambda y, pred, p: math.sqrt(skm.mean_squared_error(y, pred)),
    "r2": lambda y, pred, p: skm.r2_score(y, pred),
    "explained_variance": lambda y, pred, p: skm.explained_variance_score(y, pred),
    "median_ae": lambda y, pred, p: skm.median_absolute_error(y, pred),
    "mape": lambda y, pred, p: skm.mean_absolute_percentage_error(y, pred),
}


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_each_resample_equals_scikit_learn_on_the_resampled_rows(method: Method) -> None:
    """Straight from scikit-learn, not through metric_values: weights -> rows -> metric."""
    for kind in ("binary", "regression"):
        inputs = classified(rows=150) if kind == "binary" else regressed(rows=150)
        y, pred_c, proba_c = inputs["y_true"], inputs["pred_c"], inputs["proba_c"]
        pred_b, proba_b = inputs["pred_b"], inputs["proba_b"]
        names = [n for n in SKLEARN if (CATALOG[n].task == "regression") == (kind == "regression")]
        deltas = bootstrap_deltas_all(
            names, **inputs, resamples=8, seed=4, method=method, categories=False
        )
        for row, take in enumerate(explicit(len(y), 8, 4, method)):
            for name in names:
                metric = SKLEARN[name]
                c = metric(y[take], pred_c[take], None if proba_c is None else proba_c[take])
                b = metric(y[take], pred_b[take], None if proba_b is None else proba_b[take])
                assert deltas[name][row] == pytest.approx(c - b, rel=1e-9, abs=1e-12), name


def old_interval(per_row_c: np.ndarray, per_row_b: np.ndarray, seed: int) -> tuple[float, float]:
    """The implementation before 0.x: row indices drawn with rng.integers, one chunk."""
    rows = len(per_row_c)
    idx = np.random.default_rng(seed).integers(0, rows, size=(2000, rows))
    deltas = per_row_c[idx].mean(axis=1) - per_row_b[idx].mean(axis=1)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return float(low), float(high)


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
@pytest.mark.parametrize("name", ["accuracy", "log_loss"])
def test_intervals_agree_with_the_index_bootstrap_within_monte_carlo_error(
    name: str, method: Method
) -> None:
    inputs = classified(rows=400)
    y, proba_c, proba_b = inputs["y_true"], inputs["proba_c"], inputs["proba_b"]
    if name == "accuracy":
        per_c, per_b = (inputs["pred_c"] == y) * 1.0, (inputs["pred_b"] == y) * 1.0
    else:
        eps = np.finfo(float).eps
        per_c = -np.log(np.clip(proba_c[np.arange(len(y)), y], eps, 1 - eps))
        per_b = -np.log(np.clip(proba_b[np.arange(len(y)), y], eps, 1 - eps))
    old = old_interval(per_c, per_b, seed=1)
    deltas = bootstrap_deltas(name, **inputs, resamples=2000, seed=1, method=method)
    new = tuple(np.percentile(deltas, [2.5, 97.5]))
    # a 2.5 % quantile of 2,000 resamples has a standard error of ~2.7 sd / sqrt(2000) (normal
    # deltas); two independent estimates differ by sqrt(2) of that: allow 4 such errors
    allowed = 4 * math.sqrt(2) * 2.7 * deltas.std() / math.sqrt(2000)
    assert old[0] == pytest.approx(new[0], abs=allowed)
    assert old[1] == pytest.approx(new[1], abs=allowed)


def test_all_metrics_share_the_same_resamples() -> None:
    inputs = classified()
    names = ["accuracy", "f1", "roc_auc", "log_loss", "average_precision"]
    together = paired_bootstrap_all(names, **inputs, resamples=300, confidence=0.9, seed=2)
    for name in names:
        alone = paired_bootstrap(name, **inputs, resamples=300, confidence=0.9, seed=2)
        assert together[name] == alone
    # accuracy and f1 move together on shared resamples: their deltas are correlated
    deltas = bootstrap_deltas_all(["accuracy", "f1"], **inputs, resamples=300, seed=2)
    assert np.corrcoef(deltas["accuracy"], deltas["f1"])[0, 1] > 0.5


@pytest.mark.parametrize("name", ["accuracy", "f1_macro", "roc_auc", "log_loss"])
def test_identical_models_give_a_zero_interval(name: str) -> None:
    inputs = classified()
    inputs["pred_b"], inputs["proba_b"] = inputs["pred_c"], inputs["proba_c"]
    assert paired_bootstrap(name, **inputs, resamples=200, confidence=0.95, seed=0) == (0.0, 0.0)


def test_a_clearly_better_classifier_has_an_interval_above_zero() -> None:
    inputs = classified(rows=200)
    X = np.zeros((len(inputs["y_true"]), 1))
    dummy = DummyClassifier(strategy="most_frequent").fit(X, inputs["y_true"])
    inputs["pred_b"], inputs["proba_b"] = dummy.predict(X), dummy.predict_proba(X)
    low, high = paired_bootstrap("accuracy", **inputs, resamples=1000, confidence=0.95, seed=0)
    assert low is not None and high is not None
    assert 0 < low < high
    low, high = paired_bootstrap("log_loss", **inputs, resamples=1000, confidence=0.95, seed=0)
    assert high is not None and high < 0  # smaller is better: the delta is negative


def test_a_clearly_better_regressor_has_an_error_interval_below_zero() -> None:
    low, high = paired_bootstrap("rmse", **regressed(), resamples=500, confidence=0.9, seed=0)
    assert low is not None and high is not None and low < high < 0


def test_nothing_defined_gives_no_interval() -> None:
    y = np.zeros(20, dtype=int)  # one class only: ROC AUC is undefined on every resample
    proba = np.c_[np.full(20, 0.6), np.full(20, 0.4)]
    pred = np.zeros(20, dtype=int)
    result = paired_bootstrap(
        "roc_auc", y, pred, proba, pred, proba, 100, 0.95, 0, classes=np.array([0, 1])
    )
    assert result == (None, None)


def test_no_resamples_gives_no_interval() -> None:
    assert paired_bootstrap("accuracy", **classified(), resamples=0, confidence=0.95, seed=0) == (
        None,
        None,
    )


def test_binary_metrics_use_the_obvious_positive_class() -> None:
    inputs = classified(labels=["no", "yes"])
    y, pred, proba = inputs["y_true"], inputs["pred_c"], inputs["proba_c"]
    classes = inputs["classes"]
    assert metric_values("f1", y, pred, None, classes) == pytest.approx(
        skm.f1_score(y, pred, pos_label="yes")
    )
    assert metric_values("recall", y, pred, None, classes) == pytest.approx(
        skm.recall_score(y, pred, pos_label="yes")
    )
    assert metric_values("roc_auc", y, pred, proba, classes) == pytest.approx(
        skm.roc_auc_score(y == "yes", proba[:, 1])
    )
    assert metric_values("brier_score", y, pred, proba, classes) == pytest.approx(
        np.mean(((y == "yes") - proba[:, 1]) ** 2)
    )


def test_multiclass_probability_metrics() -> None:
    inputs = classified(classes=3)
    y, proba, classes = inputs["y_true"], inputs["proba_c"], inputs["classes"]
    ovr = metric_values("roc_auc_ovr", y, inputs["pred_c"], proba, classes)
    assert ovr == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    loss = metric_values("log_loss", y, inputs["pred_c"], proba, classes)
    assert loss == pytest.approx(skm.log_loss(y, proba))


def test_regression_metrics() -> None:
    inputs = regressed()
    y, pred = inputs["y_true"], inputs["pred_c"]
    mse = metric_values("mse", y, pred, None, None)
    assert metric_values("rmse", y, pred, None, None) == pytest.approx(math.sqrt(mse))
    assert metric_values("mae", y, pred, None, None) == pytest.approx(np.mean(np.abs(y - pred)))
    assert metric_values("r2", y, pred, None, None) == pytest.approx(skm.r2_score(y, pred))


@pytest.mark.parametrize(("name", "hint"), [("brier_score", "log_loss"), ("f1", "f1_macro")])
def test_binary_only_metrics_refuse_three_classes(name: str, hint: str) -> None:
    inputs = classified(classes=3)
    with pytest.raises(StageFailure, match="binary") as caught:
        metric_values(
            name, inputs["y_true"], inputs["pred_c"], inputs["proba_c"], inputs["classes"]
        )
    assert hint in (caught.value.hint or "")


def test_probability_metric_without_probabilities() -> None:
    inputs = classified()
    with pytest.raises(StageFailure, match="predict_proba"):
        metric_values("log_loss", inputs["y_true"], inputs["pred_c"], None, inputs["classes"])


@pytest.mark.parametrize("name", ["f1_macro", "precision_macro", "recall_macro", "f1_weighted"])
def test_macro_averages_follow_the_labels_present_in_each_resample(name: str) -> None:
    rng = np.random.default_rng(4)
    y = rng.choice(["a", "b", "c", "d"], size=25, p=[0.5, 0.4, 0.06, 0.04])
    pred_c = np.where(rng.random(25) < 0.7, y, rng.choice(["a", "b", "e"], size=25))
    pred_b = np.where(rng.random(25) < 0.5, y, "a")
    args: dict[str, Any] = {"y_true": y, "pred_c": pred_c, "proba_c": None, "pred_b": pred_b}
    args["proba_b"] = None
    fast = bootstrap_deltas(name, **args, resamples=150, seed=2)
    loop = bootstrap_deltas(name, **args, resamples=150, seed=2, fast=False)
    np.testing.assert_allclose(fast, loop, rtol=1e-9, atol=1e-12)


def test_binary_metrics_score_the_configured_positive_class() -> None:
    inputs = classified(labels=["bought", "not_bought"])
    y, pred, proba, classes = (inputs[k] for k in ("y_true", "pred_c", "proba_c", "classes"))
    bought = list(classes).index("bought")
    for name, function in (
        ("f1", skm.f1_score),
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
    ):
        value = metric_values(name, y, pred, None, classes, "bought")
        assert value == pytest.approx(function(y, pred, pos_label="bought", zero_division=0))
    scores = proba[:, bought]
    assert metric_values("roc_auc", y, pred, proba, classes, "bought") == pytest.approx(
        skm.roc_auc_score(y == "bought", scores)
    )
    assert metric_values("average_precision", y, pred, proba, classes, "bought") == pytest.approx(
        skm.average_precision_score(y, scores, pos_label="bought")
    )
    assert metric_values("brier_score", y, pred, proba, classes, "bought") == pytest.approx(
        skm.brier_score_loss(y, scores, pos_label="bought")
    )
    # the other class is a different question with a different answer
    other = metric_values("average_precision", y, pred, proba, classes, "not_bought")
    assert other != pytest.approx(
        metric_values("average_precision", y, pred, proba, classes, "bought")
    )


def test_a_model_that_never_predicts_the_positive_class_has_recall_zero() -> None:
    y = np.array(["bought", "not_bought"] * 20)
    never = np.full(len(y), "not_bought")
    classes = np.array(["bought", "not_bought"])
    assert metric_values("recall", y, never, None, classes, "bought") == 0.0
    # the old rule (the label that sorts second) scored 'not_bought': recall 1.0
    assert metric_values("recall", y, never, None, classes, "not_bought") == 1.0
    deltas = bootstrap_deltas(
        "recall", y, never, None, y, None, resamples=50, seed=0, classes=classes, positive="bought"
    )
    np.testing.assert_array_equal(deltas, -1.0)  # the baseline (perfect) always wins


@pytest.mark.parametrize("name", ["f1", "roc_auc", "average_precision"])
def test_labels_without_an_obvious_positive_class_are_refused(name: str) -> None:
    inputs = classified(labels=["bought", "not_bought"])
    with pytest.raises(InputError, match="no obvious positive class") as caught:
        paired_bootstrap(name, **inputs, resamples=10, confidence=0.95, seed=0)
    assert "evaluation.positive_class" in (caught.value.hint or "")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_equals_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = 120
    y = rng.random(rows) < 0.3
    # scores with ties (rounded) and without, informative and not
    candidate = np.clip(y * 0.3 + rng.random(rows) * 0.7, 0, 1)
    baseline = np.round(rng.random(rows), 1)
    classes = np.array([False, True])
    args: dict[str, Any] = {
        "y_true": y,
        "pred_c": candidate > 0.5,
        "proba_c": np.c_[1 - candidate, candidate],
        "pred_b": baseline > 0.5,
        "proba_b": np.c_[1 - baseline, baseline],
        "classes": classes,
    }
    value = metric_values("average_precision", y, args["pred_c"], args["proba_c"], classes)
    assert value == pytest.approx(skm.average_precision_score(y, candidate))
    fast = bootstrap_deltas("average_precision", **args, resamples=200, seed=seed)
    loop = np.empty(200)
    for row, take in enumerate(explicit(rows, 200, seed)):
        loop[row] = skm.average_precision_score(
            y[take], candidate[take]
        ) - skm.average_precision_score(y[take], baseline[take])
    np.testing.assert_allclose(fast, loop, rtol=1e-9, atol=1e-12)
    low, high = paired_bootstrap(
        "average_precision", **args, resamples=200, confidence=0.9, seed=seed
    )
    assert (low, high) == pytest.approx(tuple(np.percentile(loop, [5, 95])))


def test_average_precision_of_a_resample_without_positives_is_zero_as_in_scikit_learn() -> None:
    y = np.array([0] * 18 + [1] * 2)
    rng = np.random.default_rng(3)
    p_c, p_b = rng.random(20), rng.random(20)
    args = {
        "y_true": y,
        "pred_c": (p_c > 0.5).astype(int),
        "proba_c": np.c_[1 - p_c, p_c],
        "pred_b": (p_b > 0.5).astype(int),
        "proba_b": np.c_[1 - p_b, p_b],
        "classes": np.array([0, 1]),
    }
    resampled = explicit(20, 300, seed=2)
    assert sum(y[take].sum() == 0 for take in resampled) > 10  # resamples the test is about
    fast = bootstrap_deltas("average_precision", **args, resamples=300, seed=2)
    loop = bootstrap_deltas("average_precision", **args, resamples=300, seed=2, fast=False)
    np.testing.assert_allclose(fast, loop, atol=1e-12)


@pytest.mark.parametrize("labels", [[0, 1], ["cat", "dog", "eel"]])
def test_log_loss_equals_scikit_learn(labels: list[Any]) -> None:
    rng = np.random.default_rng(8)
    truth = np.array(labels)[rng.integers(0, len(labels), 5000)]
    probs = rng.dirichlet(np.ones(len(labels)), 5000)
    probs[:3] = np.eye(len(labels))[: min(3, len(labels))][0]  # 0 and 1: clipped by eps
    want = skm.log_loss(truth, probs, labels=labels)
    found = metric_values("log_loss", truth, truth, probs, np.array(labels))
    assert found == pytest.approx(want, rel=1e-12, abs=0)


def test_log_loss_leaves_bad_probabilities_to_scikit_learn() -> None:
    truth = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="greater than 1"):
        metric_values("log_loss", truth, truth, np.array([[0.5, 0.5], [-0.5, 1.5], [0, 1]]), [0, 1])
