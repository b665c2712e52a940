"""Columns: the train and test files have the same columns."""

from __future__ import annotations

from mlci_action.config import ColumnsCheck
from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import make_check, plural, show
from mlci_action.worker.checks.table import Table

SETTING = "data.checks.columns.strict"


def columns_check(train: Table, test: Table, limits: ColumnsCheck) -> DataCheck:
    failures: list[CheckFailure] = []
    changes: list[str] = []
    for side, other, check in ((train, test, "not_in_test"), (test, train, "not_in_train")):
        only = _only_in(side, other, check)
        if only:
            failures += only
            changes.append(
                f"{plural(len(only), 'column')} of {side.name} not in {other.name}: "
                + ", ".join(show(f.column) for f in only)
            )
    return make_check(
        name="columns",
        kind="columns",
        dataset="train→test",
        passed=not failures,
        severity="error" if limits.strict else "warning",
        detail="; ".join(changes)
        or f"same {plural(len(train.frame.columns), 'column')} in {train.name} and {test.name}",
        setting=SETTING,
        statistic=float(len(failures)),
        threshold=0.0,
        failures=failures,
    )


def _only_in(side: Table, other: Table, check: str) -> list[CheckFailure]:
    """A failure per column of ``side`` that ``other`` lacks, placed in ``side``'s header."""
    known = set(other.frame.columns)
    return [
        CheckFailure(
            check=check,
            column=str(name),
            count=1,
            examples=[f"header, column {position + 1}: {show(str(name))}"],
            file=side.name,
        )
        for position, name in enumerate(side.frame.columns)
        if name not in known
    ]
