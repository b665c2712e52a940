"""One partition's small tallies for the checks that look at a whole column: constant columns,
categories and the target (:mod:`.merged`, which merges them exactly).

Per column the tally holds a few values, never rows: its first value and whether every row
of the partition holds it (constant), and for a categorical column its distinct values in
the order first met, each with its row count and its first rows (at most ``max_levels + 1``
values: one more means "not categorical", and the values are dropped). The target of a
classification keeps every class. Values travel as JSON scalars (text, numbers, booleans;
anything else as text), which compare as pandas compares them within one column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.errors import InputError
from mlci_action.worker.checks.common import EXAMPLES, is_numeric, show
from mlci_action.worker.checks.constant import is_constant
from mlci_action.worker.checks.drift_tally import (
    DriftPlan,
    DriftTally,
    NumericTally,
    drift_tally,
    numeric_tally,
)

Scalar = str | int | float | bool


@dataclass(frozen=True)
class TallyPlan:
    """What the partitions tally, decided once from the first partitions' Parquet footers."""

    target: str
    task: str
    constant: list[str] = field(default_factory=list)
    """The training data's feature columns (empty: the constant check is off)."""
    levels: list[str] = field(default_factory=list)
    """Categorical columns both data sets share (the target of a classification among them)."""
    text: list[str] = field(default_factory=list)
    """Of those, the ones whose types differ between train and test: compared as text."""
    max_levels: int = 50
    target_checks: bool = False
    duplicates: bool = False
    drift: DriftPlan | None = None
    """The drift check's tallies, of the training data and of the baseline's (None: off)."""
    target_origin: float = 0.0
    """A regression's target is binned on the drift grid around this (its target shift)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TallyPlan:
        drift = data.get("drift")
        return cls(**{**data, "drift": None if drift is None else DriftPlan.from_json(drift)})


@dataclass(frozen=True)
class Level:
    """One value of a column in one partition."""

    value: Scalar
    count: int
    rows: list[int]
    """Its first rows, from 0."""
    shown: str


@dataclass(frozen=True)
class ColumnTally:
    first: Scalar | None = None
    """The first row's value (None: missing, or a list or array, never constant)."""
    first_shown: str = ""
    constant: bool = False
    """Every row of the partition holds ``first`` (a missing one: every row is missing)."""
    levels: list[Level] | None = None
    """None: not tallied, or more than max_levels values (then not categorical)."""


@dataclass(frozen=True)
class PartTally:
    columns: dict[str, ColumnTally]
    missing_target: int = 0
    missing_rows: list[int] = field(default_factory=list)
    drift: DriftTally | None = None
    target_bins: NumericTally | None = None
    """A regression's target on the drift grid (its target shift)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartTally:
        columns = {
            name: ColumnTally(
                first=column["first"],
                first_shown=column["first_shown"],
                constant=column["constant"],
                levels=None
                if column["levels"] is None
                else [Level(**level) for level in column["levels"]],
            )
            for name, column in data["columns"].items()
        }
        drift, bins = data.get("drift"), data.get("target_bins")
        return cls(
            columns,
            data["missing_target"],
            data["missing_rows"],
            None if drift is None else DriftTally.from_json(drift),
            None if bins is None else NumericTally(**bins),
        )


def scalar(value: Any) -> Scalar | None:
    """A cell as JSON carries it (None: missing, or not a scalar)."""
    if isinstance(value, np.generic):
        value = value.item()
    if not pd.api.types.is_scalar(value) or pd.isna(value):
        return None
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)


def tally(frame: pd.DataFrame, dataset: str, plan: TallyPlan, name: str) -> PartTally:
    """The partition's tallies (``name``: its file, for a message); a partition of the
    baseline's training data (``dataset`` "baseline") tallies for the drift check only."""
    wanted_drift = plan.drift if dataset in ("train", "baseline") else None
    drift = None if wanted_drift is None else drift_tally(frame, wanted_drift)
    if dataset == "baseline":
        return PartTally({}, drift=drift)
    columns: dict[str, ColumnTally] = {}
    wanted = (plan.constant if dataset == "train" else []) + [
        column for column in plan.levels if column not in plan.constant or dataset != "train"
    ]
    for column in wanted:
        values = frame[column]
        first, shown, constant = None, "", False
        if dataset == "train" and column in plan.constant and len(values):
            head = values.iloc[0]
            first, shown, constant = scalar(head), show(head), is_constant(values)
        levels = None
        if column in plan.levels:
            cap = None if column == plan.target and plan.target_checks else plan.max_levels
            compared = values.astype(str).where(values.notna()) if column in plan.text else values
            levels = _levels(compared, values, cap)
        columns[column] = ColumnTally(first, shown, constant, levels)
    if not plan.target_checks:
        return PartTally(columns, drift=drift)
    y = frame[plan.target]
    if plan.task == "regression" and not is_numeric(y.dropna()):
        raise InputError(
            f"{name}: target column {plan.target!r} is not numeric (dtype {y.dtype}), "
            "but evaluation.task is regression",
            hint="use task: classification for class labels, or fix the column",
        )
    missing = np.flatnonzero(y.isna().to_numpy())
    bins = numeric_tally(y, plan.target_origin) if plan.task == "regression" else None
    return PartTally(columns, len(missing), missing[:EXAMPLES].tolist(), drift, bins)


def _levels(values: pd.Series, original: pd.Series, cap: int | None) -> list[Level] | None:
    """Each distinct value of ``values`` (``original``: as the file holds them, for showing)."""
    codes, uniques = pd.factorize(values, sort=False)  # first met first, missing is -1
    if cap is not None and len(uniques) > cap:
        return None
    present = np.flatnonzero(codes >= 0)
    order = present[np.argsort(codes[present], kind="stable")]
    counts = np.bincount(codes[present], minlength=len(uniques))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(counts) else counts
    levels = []
    for code, value in enumerate(uniques):
        rows = order[starts[code] : starts[code] + min(int(counts[code]), EXAMPLES)]
        kept = scalar(value)
        levels.append(
            Level(
                value=str(value) if kept is None else kept,
                count=int(counts[code]),
                rows=[int(r) for r in rows],
                shown=show(original.iloc[int(rows[0])]),
            )
        )
    return levels
