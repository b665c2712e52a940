"""Categories: values of a categorical column that only one of two files has.

A categorical column is a text, category or boolean column, or the target of a
classification, with at most ``max_levels`` distinct values (more: an ID or free text). Train
and test are compared both ways (a class typed wrongly in two training rows is a class the
test never has); in a comparison, the candidate's training data against the baseline's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlci_action.config import CategoriesCheck
from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import EXAMPLES, make_check, plural, show
from mlci_action.worker.checks.table import Table

SETTING = "data.checks.categories.max_rows"
BASELINE_SETTING = "data.checks.categories.enabled"


@dataclass(frozen=True)
class Columns:
    """The categorical columns two files share, and those left out for too many values."""

    compared: list[str]
    skipped: list[str]


def categorical_columns(
    left: Table, right: Table, target: str, task: str, limits: CategoriesCheck
) -> Columns:
    compared: list[str] = []
    skipped: list[str] = []
    for column in left.frame.columns:
        if column not in right.frame.columns:
            continue
        a, b = left.frame[column], right.frame[column]
        if not (
            is_categorical(a) or is_categorical(b) or (column == target and task != "regression")
        ):
            continue
        levels = len(pd.unique(pd.concat([a.dropna(), b.dropna()], ignore_index=True)))
        (compared if levels <= limits.max_levels else skipped).append(str(column))
    return Columns(compared, skipped)


def categories_check(
    train: Table,
    test: Table,
    columns: Columns,
    limits: CategoriesCheck,
    *,
    skip_test_only: Iterable[str] = (),
) -> DataCheck:
    """Rows of train or test whose category the other file never has. ``skip_test_only``:
    columns whose test-only values another check reports (the target's unseen classes)."""
    skipped = set(skip_test_only)
    failures = []
    for column in columns.compared:
        failures += _only_in(train, test, column, "not_in_test")
        if column not in skipped:
            failures += _only_in(test, train, column, "not_in_train")
    return categories_result(failures, columns, train.name, test.name, limits)


def categories_result(
    failures: list[CheckFailure],
    columns: Columns,
    train: str,
    test: str,
    limits: CategoriesCheck,
) -> DataCheck:
    """The check from its failures (one per column and side, train's first); ``train`` and
    ``test``: the data as mlci.yaml names it."""
    rows = sum(f.count for f in failures)
    passed = rows <= limits.max_rows
    detail = (
        f"{plural(rows, 'row')} with a category that only {train} or only {test} has, "
        f"in {plural(len({f.column for f in failures}), 'column')} "
        f"(at most {limits.max_rows} allowed)"
        if failures
        else f"every category is in both {train} and {test}"
    )
    detail += _coverage(columns, limits)
    return make_check(
        name="categories",
        kind="categories",
        dataset="train→test",
        passed=passed,
        detail=detail,
        setting=SETTING,
        statistic=float(rows),
        threshold=float(limits.max_rows),
        failures=failures,
    )


def baseline_categories_check(
    baseline: Table, train: Table, columns: Columns, limits: CategoriesCheck
) -> DataCheck:
    """A warning: categories of the candidate's training data the baseline never had."""
    failures = []
    for column in columns.compared:
        failures += _only_in(train, baseline, column, "not_in_baseline")
    rows = sum(f.count for f in failures)
    detail = (
        f"{plural(rows, 'row')} of {train.name} with a category the baseline's training data "
        f"never had, in {plural(len(failures), 'column')}"
        if failures
        else f"no category of {train.name} is new since the baseline"
    )
    return make_check(
        name="new_categories",
        kind="categories",
        dataset="baseline→candidate",
        passed=not failures,
        severity="warning",
        detail=detail + _coverage(columns, limits),
        setting=BASELINE_SETTING,
        statistic=float(rows),
        failures=failures,
    )


def _only_in(side: Table, other: Table, column: str, check: str) -> list[CheckFailure]:
    values, known = _comparable(side.frame[column], other.frame[column])
    # the few distinct values first; the rows are scanned only for a value the other lacks
    only = pd.Index(pd.unique(values.dropna())).difference(pd.Index(pd.unique(known.dropna())))
    if only.empty:
        return []
    alone = values.isin(only).to_numpy()
    count = int(alone.sum())
    if not count:
        return []
    at = np.flatnonzero(alone)[:EXAMPLES]
    shown = side.frame[column].iloc[at]
    return [
        CheckFailure(
            check=check,
            column=column,
            count=count,
            examples=[
                f"{where}: {show(value)}"
                for where, value in zip(side.where(at), shown, strict=True)
            ],
            file=side.name,
        )
    ]


def _comparable(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The same values compare equal: text on both sides when the dtypes differ."""
    if a.dtype == b.dtype:
        return a, b
    return a.astype(str).where(a.notna()), b.astype(str).where(b.notna())


def is_categorical(values: pd.Series) -> bool:
    dtype = values.dtype
    return bool(
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
    )


def _coverage(columns: Columns, limits: CategoriesCheck) -> str:
    text = f"; {plural(len(columns.compared), 'categorical column')} compared"
    if columns.skipped:
        text += (
            f", {len(columns.skipped)} left out with more than {limits.max_levels} values "
            f"({', '.join(columns.skipped[:EXAMPLES])}; data.checks.categories.max_levels)"
        )
    return text
