"""The data as init sees it: the task, each column's kind, and a pandera schema of both files.

The schema is what the project's environment can load: plain ``str`` for text (pandas picks
its own storage, with or without pyarrow), ``boolean``/``float64`` where values are missing,
allowed values (``isin``) for categorical columns and the classification target, and numeric
ranges that cover the training *and* the test file, widened and rounded outward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from mlci_action.metrics import Task
from mlci_action.scaffold.numbers import round_out

MAX_LEVELS = 50
"""A text column with at most this many distinct values is categorical (as data.checks'
``categories.max_levels`` default)."""
RANGE_MARGIN = 0.1
"""Ranges are widened by this share of the observed span on each side, then rounded."""

Kind = Literal["bool", "int", "float", "text"]


@dataclass(frozen=True)
class Data:
    """The two files init was given, read once."""

    train: pd.DataFrame
    test: pd.DataFrame
    target: str
    task: Task

    @property
    def columns(self) -> list[str]:
        """Every column of either file: the training file's order, then test-only ones."""
        return [*self.train.columns, *(c for c in self.test.columns if c not in self.train)]

    def values(self, column: str) -> pd.Series:
        """The column's values in both files (from whichever files have it)."""
        parts = [frame[column] for frame in (self.train, self.test) if column in frame]
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def kind(self, column: str) -> Kind:
        return column_kind(self.values(column))

    def is_categorical(self, column: str, max_levels: int = MAX_LEVELS) -> bool:
        """Text or boolean with at most ``max_levels`` distinct values, or the class label."""
        if column == self.target and self.task == "classification":
            return True
        values = self.values(column)
        if column_kind(values) in ("int", "float"):
            return False
        return int(values.nunique(dropna=True)) <= max_levels


def infer_task(target: pd.Series) -> Task:
    """Classification for labels (text, booleans, integers with at most 20 values)."""
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    if pd.api.types.is_integer_dtype(target) and target.nunique() <= 20:
        return "classification"
    return "regression"


def column_kind(values: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        return "float"
    present = values.dropna()
    if len(present) and pd.api.types.infer_dtype(present, skipna=True) == "boolean":
        return "bool"  # True/False with gaps: read as objects
    return "text"


_DTYPES: dict[Kind, str] = {"bool": "bool", "int": "int64", "float": "float64", "text": "str"}


def schema_document(data: Data) -> dict[str, Any]:
    """A pandera YAML schema (as ``DataFrameSchema.to_yaml`` lays it out) of both files."""
    columns: dict[str, dict[str, Any]] = {}
    for column in data.columns:
        values = data.values(column)
        kind = column_kind(values)
        nullable = bool(values.isna().any())
        entry: dict[str, Any] = {
            "dtype": "boolean" if kind == "bool" and nullable else _DTYPES[kind],
            "nullable": nullable,
        }
        if column not in data.train or column not in data.test:
            entry["required"] = False  # data.checks.columns reports the difference
        if data.is_categorical(column) and kind != "bool":
            entry["isin"] = sorted((_plain(v) for v in values.dropna().unique()), key=_order)
        elif kind in ("int", "float") and values.notna().any():
            low, high = widened_range(float(values.min()), float(values.max()))
            if kind == "int":
                low, high = math.floor(low), math.ceil(high)
            entry["in_range"] = {"min_value": low, "max_value": high}
        columns[str(column)] = entry
    return {"schema_type": "dataframe", "columns": columns, "coerce": True, "strict": False}


def widened_range(low: float, high: float) -> tuple[float, float]:
    """``[low, high]`` widened by a tenth of the span on each side and rounded outward to two
    significant figures; never below zero for a column without negative values."""
    margin = (high - low) * RANGE_MARGIN or abs(high) * RANGE_MARGIN or 1.0
    new_low = round_out(low - margin, up=False)
    if low >= 0:
        new_low = max(0.0, new_low)
    return new_low, round_out(high + margin, up=True)


def _order(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value YAML writes plainly."""
    return value.item() if hasattr(value, "item") else value
