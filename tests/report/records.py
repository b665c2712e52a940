"""Run records for the report's tests, with curves computed from real scikit-learn models on
generated data: a classification run, a regression run, a failing run and a maximum-size run
(many classes, many features, long package lists, long logs)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlci_action.record import (
    CacheInfo,
    CheckFailure,
    DataCheck,
    DataReport,
    EnvironmentInfo,
    GateResult,
    MetricResult,
    RunRecord,
    Source,
    StageResult,
    Status,
)
from mlci_action.worker.curves import classification_curves, regression_curves

EVIL = '`"]; click A call alert() %%{init: {"theme":"dark"}}%%\n</details> --> <b>x</b> |'
"""A label trying every way out: a Mermaid statement and directive, a newline, a code span,
the end of a details block and of an HTML comment, a tag and a table cell."""


def _base(**changes: Any) -> RunRecord:
    stages = {
        name: StageResult(status=Status.PASSED, seconds=1.0, reason=f"{name} done")
        for name in ("source", "environment", "train", "evaluate", "gates")
    }
    record = RunRecord(
        mlci_version="0.1.0",
        name="demo",
        verdict="pass",
        summary="all 1 gates passed",
        started_at="2026-11-28T00:00:00+00:00",
        seconds=12.5,
        candidate=Source(role="candidate", ref="HEAD", sha="a" * 40),
        baseline=Source(role="baseline", ref="main", sha="b" * 40),
        stages=stages,
        cache=CacheInfo(hit=False, key="k" * 64),
        environment=EnvironmentInfo(
            key="e" * 64,
            python="3.12.7",
            executor="docker",
            reused=True,
            packages={"numpy": "2.1.0", "scikit-learn": "1.6.0", "pandas": "2.2.3", "new-pkg": "1"},
        ),
        baseline_environment=EnvironmentInfo(
            key="f" * 64,
            python="3.12.7",
            executor="docker",
            reused=True,
            packages={"numpy": "2.1.0", "scikit_learn": "1.5.2", "pandas": "2.2.3", "old": "0.1"},
        ),
    )
    return record.model_copy(update=changes)


def _metric(
    candidate: float, baseline: float, greater: bool = True, width: float = 0.02
) -> MetricResult:
    delta = candidate - baseline
    return MetricResult(
        candidate=candidate,
        baseline=baseline,
        delta=delta,
        ci_low=delta - width,
        ci_high=delta + width,
        confidence=0.95,
        greater_is_better=greater,
        significant=abs(delta) > width,
    )


def classification(label: str = "yes") -> RunRecord:
    X, y = make_classification(n_samples=600, n_features=6, random_state=0)
    labels = np.array(["no", label], dtype=object)[y]
    fit, test = slice(0, 400), slice(400, 600)
    good = LogisticRegression().fit(X[fit], labels[fit])
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X[fit], labels[fit])
    classes = good.classes_
    curves = classification_curves(
        labels[test],
        [good.predict(X[test]), tree.predict(X[test])],
        [good.predict_proba(X[test]), tree.predict_proba(X[test])],
        classes,
        label,
    )
    return _base(
        metrics={"accuracy": _metric(0.9, 0.85), "log_loss": _metric(0.25, 0.4, greater=False)},
        positive_class=label,
        gates=[GateResult(name="accuracy", metric="accuracy", passed=True, reason="ok")],
        curves=curves,
    )


def regression() -> RunRecord:
    X, y = make_regression(n_samples=600, n_features=5, noise=20.0, random_state=0)
    y = y * 10 + 1000
    fit, test = slice(0, 400), slice(400, 600)
    linear = LinearRegression().fit(X[fit], y[fit])
    mean = DummyRegressor().fit(X[fit], y[fit])
    curves = regression_curves(y[test], [linear.predict(X[test]), mean.predict(X[test])])
    return _base(
        metrics={"rmse": _metric(210.0, 1117.0, greater=False, width=30), "r2": _metric(0.98, 0.0)},
        curves=curves,
    )


def failing() -> RunRecord:
    record = classification()
    return record.model_copy(
        update={
            "verdict": "fail",
            "summary": "gates: 1 of 1 gates failed: accuracy",
            "gates": [
                GateResult(
                    name="accuracy",
                    metric="accuracy",
                    passed=False,
                    reason="max_regression: change -0.05 is below -0.02",
                )
            ],
            "metrics": {"accuracy": _metric(0.8, 0.85)},
            "stages": {
                **record.stages,
                "gates": StageResult(status=Status.FAILED, seconds=0.1, reason="1 gate failed"),
            },
        }
    )


def maximum(classes: int = 200, features: int = 2000, packages: int = 3000) -> RunRecord:
    """Everything as large as a real project makes it, with hostile names throughout."""
    rng = np.random.default_rng(0)
    names = np.array([f"class {k} {EVIL}" for k in range(classes)], dtype=object)
    truth = names[np.minimum(rng.geometric(0.03, 5000) - 1, classes - 1)]
    candidate = np.where(rng.random(5000) < 0.7, truth, names[rng.integers(0, classes, 5000)])
    baseline = np.where(rng.random(5000) < 0.6, truth, names[rng.integers(0, classes, 5000)])
    curves = classification_curves(truth, [candidate, baseline], [None, None], None, None)
    checks = [
        DataCheck(
            name="feature_drift",
            kind="drift",
            dataset="baseline→candidate",
            column=f"feature {k} {EVIL}",
            passed=k / features <= 0.9,
            severity="warning",
            detail=f"KS statistic {k / features:.3f} {EVIL}",
            statistic=k / features,
            threshold=0.9,
        )
        for k in range(features)
    ]
    checks += [
        DataCheck(
            name="schema",
            kind="schema",
            dataset="train",
            passed=False,
            detail=f"{features} columns failed {EVIL}",
            failures=[
                CheckFailure(
                    check="in_range(0, 1)",
                    column=f"feature {k} {EVIL}",
                    count=1000,
                    examples=[f"line {i}: {EVIL}" for i in range(5)],
                    file="data/train.csv",
                )
                for k in range(200)
            ],
        )
    ]
    packages_new = {f"package-{k}-{EVIL}": f"{k}.0" for k in range(packages)}
    packages_old = {
        f"package-{k}-{EVIL}": f"{k}.{k % 2}" for k in range(packages // 2, packages + 500)
    }
    record = failing()
    environment = record.environment
    assert environment is not None
    return record.model_copy(
        update={
            "curves": curves,
            "positive_class": None,
            "metrics": {
                **{f"metric_{k}": _metric(0.5 + k / 100, 0.5) for k in range(30)},
                "accuracy": _metric(0.7, 0.6),
            },
            "data": DataReport(passed=False, rows={"train": 10_000, "test": 5000}, checks=checks),
            "environment": environment.model_copy(update={"packages": packages_new}),
            "baseline_environment": environment.model_copy(update={"packages": packages_old}),
            "params": {
                f"param {k} {EVIL}": {"baseline": "1", "candidate": EVIL} for k in range(500)
            },
            "stages": {
                **record.stages,
                "train": StageResult(
                    status=Status.PASSED, seconds=1.0, log_tail=(EVIL + "\n") * 2000
                ),
            },
        }
    )
