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
    share = count / len(hashes) if len(hashes) else 0.0
    passed = share <= limits.max_share
    detail = (
        f"{table.name}: {plural(count, 'row')} repeat an earlier row exactly ({share:.1%}, "
        f"at most {limits.max_share:.1%} allowed)"
    )
    failures = []
    if count:
        failures.append(
            CheckFailure(
                check="duplicate_rows",
                count=count,
                examples=_copies(table, hashes, np.flatnonzero(repeat)),
                file=table.name,
            )
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
