"""The metrics mlci knows: a plain catalog, cheap to import (no scikit-learn here).

The functions that compute them live in :mod:`mlci_action.worker.scoring`, which runs inside
the project's environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Task = Literal["classification", "regression"]
Input = Literal["label", "proba"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    task: Task
    greater_is_better: bool
    input: Input = "label"
    description: str = ""
    binary: str | None = None
    """Binary classification only (scored for evaluation.positive_class): what to use instead
    for more than two classes."""

    @property
    def needs_positive(self) -> bool:
        return self.binary is not None


_MACRO_F1 = "use f1_macro or f1_weighted for more than two classes"

_SPECS = [
    MetricSpec("accuracy", "classification", True, description="share of correct labels"),
    MetricSpec("balanced_accuracy", "classification", True),
    MetricSpec(
        "f1", "classification", True, description="F1 of the positive class", binary=_MACRO_F1
    ),
    MetricSpec("f1_macro", "classification", True),
    MetricSpec("f1_weighted", "classification", True),
    MetricSpec(
        "precision",
        "classification",
        True,
        description="precision of the positive class",
        binary="use precision_macro for more than two classes",
    ),
    MetricSpec("precision_macro", "classification", True),
    MetricSpec(
        "recall",
        "classification",
        True,
        description="recall of the positive class",
        binary="use recall_macro for more than two classes",
    ),
    MetricSpec("recall_macro", "classification", True),
    MetricSpec(
        "roc_auc",
        "classification",
        True,
        "proba",
        binary="use roc_auc_ovr for more than two classes",
    ),
    MetricSpec("roc_auc_ovr", "classification", True, "proba"),
    MetricSpec(
        "average_precision",
        "classification",
        True,
        "proba",
        description="area under the precision-recall curve of the positive class",
        binary="use roc_auc_ovr or log_loss for more than two classes",
    ),
    MetricSpec("log_loss", "classification", False, "proba"),
    MetricSpec(
        "brier_score",
        "classification",
        False,
        "proba",
        binary="use log_loss for more than two classes",
    ),
    MetricSpec("mae", "regression", False, description="mean absolute error"),
    MetricSpec("mse", "regression", False, description="mean squared error"),
    MetricSpec("rmse", "regression", False, description="root mean squared error"),
    MetricSpec("r2", "regression", True),
    MetricSpec("mape", "regression", False, description="mean absolute percentage error"),
    MetricSpec("median_ae", "regression", False),
    MetricSpec("explained_variance", "regression", True),
]

CATALOG: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}

DEFAULT_METRICS: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "f1_macro"),
    "regression": ("rmse", "mae", "r2"),
}
