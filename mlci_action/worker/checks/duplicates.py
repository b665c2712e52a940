"""Duplicates: rows that repeat an earlier row of the same file exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlci_action.config import DuplicatesCheck
from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import EXAMPLES, make_check, plural, show_row
from mlci_action.worker.checks.table import Table

SETTING = "data.checks.duplicates.max_share"


def duplicates_check(table: Table, dataset: str, limits: DuplicatesCheck) -> DataCheck:
    hashes = table.row_hashes
    repeat = pd.Index(hashes).duplicated(keep="first")
    count = int(repeat.sum())
    examples = _copies(table, hashes, np.flatnonzero(repeat)) if count else []
    return duplicates_result(count, len(hashes), examples, table.name, dataset, limits)


def duplicates_result(
    count: int, rows: int, examples: list[str], name: str, dataset: str, limits: DuplicatesCheck
) -> DataCheck:
    """The check from the count of ``rows`` that repeat an earlier one and the first of them
    (``name``: the data as mlci.yaml names it: a file, or a partitioned data set)."""
    share = count / rows if rows else 0.0
    passed = share <= limits.max_share
    detail = (
        f"{name}: {plural(count, 'row')} repeat an earlier row exactly ({share:.1%}, "
        f"at most {limits.max_share:.1%} allowed)"
    )
    failures = []
    if count:
        failures.append(
            CheckFailure(check="duplicate_rows", count=count, examples=examples, file=name)
        )
    return make_check(
        name="duplicates",
        kind="duplicates",
        dataset=dataset,
        passed=passed,
        detail=detail,
        setting=SETTING,
        statistic=share,
        threshold=limits.max_share,
        failures=failures,
    )


def _copies(table: Table, hashes: np.ndarray, repeats: np.ndarray) -> list[str]:
    """``lines 2, 9, 40: (5.1, 'setosa')``: every copy of the first few repeated rows."""
    examples = []
    for value in pd.unique(hashes[repeats])[:EXAMPLES]:  # a few vectorized scans, no row loop
        at = np.flatnonzero(hashes == value)
        where = table.where_all(at[:EXAMPLES], total=len(at))
        examples.append(f"{where}: {show_row(table.frame.iloc[at[0]])}")
    return examples
