"""The whole-data-set checks of a partitioned data set, merged exactly from its partitions'
row keys and tallies (:mod:`.tally`), in file order: duplicates, constant columns, categories
and the target's class and missing-label checks. Each ends in the one-file check's own result
function, so the fields, verdicts and figures are the one-file check's on the same rows;
only the examples differ: they name a partition and its row, and a duplicate shows where its
copies are, not its values (the runner holds keys, never rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlci_action.config import CategoriesCheck, DuplicatesCheck, TargetCheck
from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.categories import Columns, categories_result
from mlci_action.worker.checks.common import EXAMPLES
from mlci_action.worker.checks.constant import constant_result
from mlci_action.worker.checks.drift_merged import numeric_drift
from mlci_action.worker.checks.duplicates import duplicates_result
from mlci_action.worker.checks.tally import Level, PartTally, Scalar, TallyPlan
from mlci_action.worker.checks.target import (
    class_checks,
    missing_result,
    regression_shift_result,
)


@dataclass(frozen=True)
class Part:
    """What the merges need of one partition."""

    name: str
    rows: int
    tally: PartTally | None
    row_keys: np.ndarray | None


def _where(parts: Sequence[Part], positions: np.ndarray) -> list[str]:
    """``data/train/part-02.parquet row 14`` for positions counted over the partitions."""
    ends = np.cumsum([p.rows for p in parts])
    found = []
    for position in positions:
        at = int(np.searchsorted(ends, position, side="right"))
        start = int(ends[at - 1]) if at else 0
        found.append(f"{parts[at].name} row {int(position) - start + 1}")
    return found


def duplicates(
    parts: Sequence[Part], name: str, dataset: str, limits: DuplicatesCheck
) -> DataCheck:
    keys = np.concatenate(
        [p.row_keys for p in parts if p.row_keys is not None] or [np.empty(0, np.uint64)]
    )
    repeat = pd.Index(keys).duplicated(keep="first")
    count = int(repeat.sum())
    examples = []
    for value in pd.unique(keys[repeat])[:EXAMPLES]:
        at = np.flatnonzero(keys == value)
        more = len(at) - EXAMPLES
        examples.append(
            "copies at "
            + ", ".join(_where(parts, at[:EXAMPLES]))
            + (f" and {more} more" if more > 0 else "")
        )
    return duplicates_result(count, len(keys), examples, name, dataset, limits)


def constant(parts: Sequence[Part], plan: TallyPlan, name: str) -> DataCheck:
    rows = sum(p.rows for p in parts)
    filled = [p for p in parts if p.rows and p.tally is not None]
    found = []
    for column in plan.constant:
        tallies = [p.tally.columns[column] for p in filled if p.tally is not None]
        first = tallies[0].first if tallies else None
        if rows > 1 and tallies and all(t.constant and t.first == first for t in tallies):
            found.append((column, tallies[0].first_shown))
    span = f"{filled[0].name} row 1 to {filled[-1].name} row {filled[-1].rows}" if filled else ""
    return constant_result(found, rows, len(plan.constant), span, name)


@dataclass(frozen=True)
class _Merged:
    """One column's values over a data set's partitions, in the order first met."""

    counts: dict[Scalar, int]
    shown: dict[Scalar, str]
    rows: dict[Scalar, list[tuple[int, int]]]
    """(partition, row) of each value's first rows, in file order."""
    complete: bool
    """False: a partition had too many values to tally."""


def _merge(parts: Sequence[Part], column: str) -> _Merged:
    counts: dict[Scalar, int] = {}
    shown: dict[Scalar, str] = {}
    rows: dict[Scalar, list[tuple[int, int]]] = {}
    complete = True
    for at, part in enumerate(parts):
        levels: list[Level] | None = (
            None if part.tally is None else part.tally.columns[column].levels
        )
        if levels is None:
            complete = False
            continue
        for level in levels:
            counts[level.value] = counts.get(level.value, 0) + level.count
            shown.setdefault(level.value, level.shown)
            kept = rows.setdefault(level.value, [])
            kept += [(at, row) for row in level.rows[: EXAMPLES - len(kept)]]
    return _Merged(counts, shown, rows, complete)


def categories(
    train: Sequence[Part],
    test: Sequence[Part],
    plan: TallyPlan,
    names: tuple[str, str],
    limits: CategoriesCheck,
) -> DataCheck:
    compared: list[str] = []
    skipped: list[str] = []
    merged = {}
    for column in plan.levels:
        a, b = _merge(train, column), _merge(test, column)
        union = len(set(a.counts) | set(b.counts))
        if a.complete and b.complete and union <= limits.max_levels:
            compared.append(column)
            merged[column] = (a, b)
        else:
            skipped.append(column)
    skip_test_only = plan.target if plan.target_checks and plan.task != "regression" else None
    failures = []
    for column in compared:
        a, b = merged[column]
        failures += _only_in(a, b, train, column, "not_in_test", names[0])
        if column != skip_test_only:
            failures += _only_in(b, a, test, column, "not_in_train", names[1])
    return categories_result(failures, Columns(compared, skipped), names[0], names[1], limits)


def _only_in(
    side: _Merged, other: _Merged, parts: Sequence[Part], column: str, check: str, name: str
) -> list[CheckFailure]:
    only = [value for value in side.counts if value not in other.counts]
    count = sum(side.counts[value] for value in only)
    if not count:
        return []
    first = sorted((at, row, value) for value in only for at, row in side.rows[value])
    examples = [f"{parts[at].name} row {row + 1}: {side.shown[value]}" for at, row, value in first][
        :EXAMPLES
    ]
    return [CheckFailure(check=check, column=column, count=count, examples=examples, file=name)]


def target(
    train: Sequence[Part],
    test: Sequence[Part],
    plan: TallyPlan,
    names: tuple[str, str],
    limits: TargetCheck,
) -> list[DataCheck]:
    """Missing labels in both data sets, and for a classification unseen classes, class
    balance and the shift of the class shares; for a regression the target's shift, a KS
    statistic at the drift grid's bin edges (not over every value: its detail bounds it)."""
    checks = []
    for parts, name, dataset in ((train, names[0], "train"), (test, names[1], "test")):
        tallies = [(p, p.tally) for p in parts if p.tally is not None]
        examples = [
            f"{p.name} row {row + 1}: (missing)" for p, t in tallies for row in t.missing_rows
        ][:EXAMPLES]
        count = sum(t.missing_target for _, t in tallies)
        rows = sum(p.rows for p in parts)
        checks.append(missing_result(count, rows, examples, name, dataset, plan.target, limits))
    if plan.task == "regression":
        return [*checks, _regression_shift(train, test, plan, limits)]
    a, b = _merge(train, plan.target), _merge(test, plan.target)

    def unseen_rows(classes: pd.Index) -> list[str]:
        first = sorted((at, row, value) for value in classes for at, row in b.rows[value])
        return [f"{test[at].name} row {row + 1}: {b.shown[value]}" for at, row, value in first][
            :EXAMPLES
        ]

    return [
        *checks,
        *class_checks(_counts(a), _counts(b), unseen_rows, plan.target, names[1], limits),
    ]


def _regression_shift(
    train: Sequence[Part], test: Sequence[Part], plan: TallyPlan, limits: TargetCheck
) -> DataCheck:
    """The KS statistic of the target at the drift grid's bin edges (:mod:`.drift_merged`)."""
    a = [p.tally.target_bins for p in train if p.tally is not None and p.tally.target_bins]
    b = [p.tally.target_bins for p in test if p.tally is not None and p.tally.target_bins]
    if not sum(sum(t.counts) for t in a) or not sum(sum(t.counts) for t in b):
        return regression_shift_result(plan.target, None, "no target values to compare", limits)
    statistic, detail = numeric_drift(a, b)
    return regression_shift_result(plan.target, statistic, detail, limits)


def _counts(merged: _Merged) -> pd.Series:
    """The class counts as ``value_counts()`` gives them: first met first, then sorted."""
    counts = pd.Series(list(merged.counts.values()), index=list(merged.counts), dtype="int64")
    return counts.sort_values(ascending=False)
