"""Metrics, gates and the positive class that fit the task and the data init was given.

Gates are sized to the test set: a regression limit smaller than one test row's worth of a
metric fails on noise, and a floor below what a model that knows nothing scores lets such a
model pass. An imbalanced binary task is judged by how well the model ranks the rare class
(ROC AUC, average precision), not by accuracy, which always predicting the majority wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlci_action.metrics import Task
from mlci_action.scaffold.numbers import ceil_to

IMBALANCED = 0.2
"""A binary task whose smallest class holds less than this share of the training rows."""
MIN_REGRESSION = 0.01
ROC_AUC_FLOOR = 0.6
"""0.5 is a coin toss; the floor asks for a little better."""
AP_FACTOR = 1.5
"""Average precision must beat the positive class's prevalence by this factor."""
_POSITIVE_NAMES = ("1", "yes", "true", "positive")


@dataclass(frozen=True)
class GateChoice:
    metric: str
    rules: dict[str, float]
    comments: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvaluationChoice:
    metrics: tuple[str, ...]
    gates: tuple[GateChoice, ...]
    comments: tuple[str, ...] = ()
    """Why these metrics (written above the metrics list)."""
    positive_class: str | int | bool | None = None
    positive_comments: tuple[str, ...] = field(default=())


def choose(task: Task, y_train: pd.Series, y_test: pd.Series) -> EvaluationChoice:
    if task == "regression":
        return EvaluationChoice(
            metrics=("rmse", "mae", "r2"),
            gates=(
                GateChoice(
                    "r2", {"threshold": 0.0}, ("r2 above 0: better than predicting the mean",)
                ),
                GateChoice(
                    "rmse",
                    {"max_relative_regression": 0.05},
                    ("at most 5 % worse than the baseline",),
                ),
            ),
        )
    train, test = y_train.dropna(), y_test.dropna()
    shares = train.value_counts(normalize=True)
    if len(shares) == 2 and float(shares.min()) < IMBALANCED:
        return _imbalanced(train, test)
    return _balanced(train, test, binary=len(shares) == 2)


def one_row(rows: int) -> float:
    """What one row of a ``rows``-row test set is worth of a share, rounded up."""
    return ceil_to(1 / max(rows, 1), 4)


def _regression_limit(rows: int, what: str) -> tuple[float, str]:
    """The smallest worsening worth failing for: one row's worth, and at least 0.01."""
    row = one_row(rows)
    limit = max(MIN_REGRESSION, row)
    return limit, f"max_regression: {what} is {row:.4f}; smaller limits fail on noise"


def _balanced(train: pd.Series, test: pd.Series, *, binary: bool) -> EvaluationChoice:
    counts = test.value_counts()
    majority, majority_share = counts.index[0], float(counts.iloc[0]) / max(len(test), 1)
    floor = ceil_to(majority_share, 4)
    limit, why = _regression_limit(len(test), f"one row of the {len(test)}-row test set")
    gate = GateChoice(
        "accuracy",
        {"threshold": floor, "max_regression": limit},
        (
            f"threshold: always predicting {_shown(majority)} scores {majority_share:.4f} on the "
            "test file; a model must at least match that",
            why,
        ),
    )
    if not binary:
        return EvaluationChoice(metrics=("accuracy", "f1_macro"), gates=(gate,))
    positive, reason = positive_class(train)
    return EvaluationChoice(
        metrics=("accuracy", "f1_macro", "roc_auc", "log_loss"),
        gates=(gate,),
        positive_class=positive,
        positive_comments=(reason,),
    )


def _imbalanced(train: pd.Series, test: pd.Series) -> EvaluationChoice:
    positive, reason = positive_class(train)
    share = float((train == positive).mean())
    positives = int((test == positive).sum())
    prevalence = positives / max(len(test), 1)
    limit, why = _regression_limit(
        positives,
        f"one of the {positives} {_shown(positive)} rows of the test set moves it by up to",
    )
    ap_floor = min(ceil_to(prevalence * AP_FACTOR, 2), 0.99)
    return EvaluationChoice(
        metrics=("roc_auc", "average_precision", "recall", "precision", "accuracy"),
        gates=(
            GateChoice(
                "roc_auc",
                {"threshold": ROC_AUC_FLOOR, "max_regression": limit},
                ("threshold: 0.5 is what a model that knows nothing scores", why),
            ),
            GateChoice(
                "average_precision",
                {"threshold": ap_floor, "max_regression": limit},
                (
                    f"threshold: {AP_FACTOR} x the prevalence of {_shown(positive)} in the test "
                    f"file ({prevalence:.4f}), which is what a model that knows nothing scores",
                    why,
                ),
            ),
        ),
        comments=(
            f"{_shown(positive)} is {share:.1%} of the training rows: always predicting the "
            f"other class scores an accuracy of {1 - share:.1%}, so accuracy is shown but not "
            "gated; the gates ask how well the model ranks the rare class.",
        ),
        positive_class=positive,
        positive_comments=(reason,),
    )


def positive_class(labels: pd.Series) -> tuple[Any, str]:
    """The label named 1/yes/true/positive, else the minority class; and why."""
    counts = labels.value_counts()
    for label in counts.index:
        if str(label).strip().lower() in _POSITIVE_NAMES:
            return _plain(label), f"the binary metrics' positive class: {_shown(label)} by its name"
    smallest = counts[counts == counts.min()].index
    label = sorted(smallest, key=str)[-1]
    return (
        _plain(label),
        f"the binary metrics' positive class: {_shown(label)}, the rarer class "
        f"({counts[label] / counts.sum():.1%} of the training rows); change it if the other "
        "class is the one to find",
    )


def _shown(label: Any) -> str:
    return repr(_plain(label)) if isinstance(_plain(label), str) else str(_plain(label))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
