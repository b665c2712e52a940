"""Leakage: test rows identical to a training row, in every column both files share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlci_action.config import LeakageCheck
from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import EXAMPLES, is_numeric, make_check, plural, show_row
from mlci_action.worker.checks.table import Table

SETTING = "data.checks.leakage.max_rows"


def leakage_check(train: Table, test: Table, limits: LeakageCheck) -> DataCheck:
    left, right = aligned(train.frame, test.frame)
    train_hashes = _hashes(left, train)
    test_hashes = _hashes(right, test)
    leaked = pd.Series(test_hashes).isin(train_hashes).to_numpy()  # a hash table, not a sort
    count = int(leaked.sum())
    examples: list[str] = []
    if count:
        rows = np.flatnonzero(leaked)[:EXAMPLES]
        # the first training row with the same content, for each example
        twins = np.array([np.flatnonzero(train_hashes == h)[0] for h in test_hashes[rows]])
        examples = [
            f"{here} = {train.name} {there}: {show_row(values)}"
            for here, there, values in zip(
                test.where(rows),
                train.where(twins),
                right.iloc[rows].itertuples(index=False),
                strict=True,
            )
        ]
    return leakage_result(count, examples, train.name, test.name, limits)


def leakage_result(
    count: int, examples: list[str], train: str, test: str, limits: LeakageCheck
) -> DataCheck:
    """The check from the count of test rows found in the training data and the first of them
    (``train``/``test``: the data as mlci.yaml names it: a file, or a partitioned data set)."""
    passed = count <= limits.max_rows
    detail = f"{plural(count, 'row')} of {test} also in {train} (at most {limits.max_rows} allowed)"
    if not passed:
        detail += (
            ": remove them from one of the files; if the data genuinely repeats rows (few "
            f"distinct values), allow them with data.checks.leakage.max_rows: {count}"
        )
    failures = []
    if count:
        failures.append(
            CheckFailure(check="rows_in_both", count=count, examples=examples, file=test)
        )
    return make_check(
        name="leakage",
        kind="leakage",
        dataset="train→test",
        passed=passed,
        detail=detail,
        setting=SETTING,
        statistic=float(count),
        threshold=float(limits.max_rows),
        failures=failures,
    )


def _hashes(frame: pd.DataFrame, table: Table) -> np.ndarray:
    """The rows' hashes: the table's own (shared with the duplicates check) when ``frame`` is
    its frame unchanged."""
    if frame is table.frame:
        return table.row_hashes
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def aligned(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shared columns, in one order, with one dtype per column, so equal rows hash equal;
    the frames themselves when they already agree."""
    if list(train.columns) == list(test.columns) and (train.dtypes == test.dtypes).all():
        return train, test
    columns = [column for column in train.columns if column in test.columns]
    left, right = train[columns], test[columns]
    for column in columns:
        a, b = left[column], right[column]
        if a.dtype == b.dtype:
            continue
        if is_numeric(a) and is_numeric(b):
            left = left.assign(**{column: a.astype("float64")})
            right = right.assign(**{column: b.astype("float64")})
        else:
            left = left.assign(**{column: a.astype(str)})
            right = right.assign(**{column: b.astype(str)})
    return left, right
