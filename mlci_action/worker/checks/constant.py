"""Constant columns: a feature with one value (missing counts as one) in every training row."""

from __future__ import annotations

import pandas as pd

from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import make_check, plural, show
from mlci_action.worker.checks.table import Table

SETTING = "data.checks.constant.enabled"


def constant_check(train: Table, target: str) -> DataCheck:
    frame = train.frame
    features = [column for column in frame.columns if column != target]
    rows = len(frame)
    constant = [column for column in features if rows > 1 and is_constant(frame[column])]
    span = f"{train.where([0])[0]} to {train.where([rows - 1])[0]}" if rows else ""
    found = [(str(column), show(frame[column].iloc[0])) for column in constant]
    return constant_result(found, rows, len(features), span, train.name)


def constant_result(
    constant: list[tuple[str, str]], rows: int, features: int, span: str, name: str
) -> DataCheck:
    """The check from its constant columns (each with its value shown), the training rows,
    how many features there are, where the rows are (``row 1 to row 90``) and the data's
    name in mlci.yaml."""
    failures = [
        CheckFailure(
            check="one_value",
            column=column,
            count=rows,
            examples=[f"every row, {span}: {value}"],
            file=name,
        )
        for column, value in constant
    ]
    if constant:
        detail = (
            f"{name}: {plural(len(constant), 'feature column')} with one value in every "
            f"row: {', '.join(show(c) for c, _ in constant)}; such a column cannot inform the "
            "model, and often means a join or an export went wrong"
        )
    elif rows > 1:
        detail = f"{name}: no constant column among {plural(features, 'feature')}"
    else:
        detail = f"{name}: one row, too few to tell"
    return make_check(
        name="constant",
        kind="constant",
        dataset="train",
        passed=not constant,
        detail=detail,
        setting=SETTING,
        statistic=float(len(constant)),
        threshold=0.0,
        failures=failures,
    )


def is_constant(values: pd.Series) -> bool:
    first = values.iloc[0]
    if not pd.api.types.is_scalar(first):  # lists or arrays in a Parquet cell: not compared
        return False
    if pd.isna(first):
        return bool(values.isna().all())
    return bool((values == first).all())
