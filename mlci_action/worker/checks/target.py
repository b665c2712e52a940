"""Target checks: missing labels, unseen and rare classes, and shifts of the target's
distribution between train and test, and between the baseline's and the candidate's training
data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mlci_action.config import TargetCheck
from mlci_action.errors import InputError
from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import (
    EXAMPLES,
    Severity,
    is_numeric,
    ks,
    make_check,
    plural,
    show,
    tvd,
)
from mlci_action.worker.checks.table import Table

_SETTINGS = "data.checks.target"


def target_checks(
    train: Table, test: Table, target: str, task: str, limits: TargetCheck
) -> list[DataCheck]:
    checks = [
        _missing(table, target, dataset, limits)
        for table, dataset in ((train, "train"), (test, "test"))
    ]
    y_train, y_test = train.frame[target].dropna(), test.frame[target].dropna()
    if task == "regression":
        for y, table in ((y_train, train), (y_test, test)):
            _require_numeric(y, table)
        checks.append(_regression_shift(y_train, y_test, limits))
    else:
        checks.extend(_class_checks(y_train, test, target, limits))
    return checks


def baseline_shift_check(
    baseline: Table, train: Table, target: str, task: str, limits: TargetCheck
) -> DataCheck:
    """The target of the candidate's training data against the baseline's: total variation
    distance of the class shares, or the KS statistic of a regression target."""
    setting = f"{_SETTINGS}.max_baseline_shift"

    def result(
        passed: bool,
        detail: str,
        statistic: float | None = None,
        *,
        severity: Severity = "error",
        failures: list[CheckFailure] | None = None,
    ) -> DataCheck:
        return make_check(
            name="target_baseline_shift",
            kind="target",
            dataset="baseline→candidate",
            column=target,
            passed=passed,
            detail=detail,
            setting=setting,
            statistic=statistic,
            threshold=limits.max_baseline_shift,
            severity=severity,
            failures=failures,
        )

    if target not in baseline.frame.columns:
        return result(
            False,
            f"not compared: the baseline's training data has no column {target!r}",
            severity="warning",
        )
    old, new = baseline.frame[target].dropna(), train.frame[target].dropna()
    if old.empty or new.empty:
        return result(False, "not compared: no target values on one side", severity="warning")
    if task == "regression":
        if not (is_numeric(old) and is_numeric(new)):
            return result(False, "not compared: a target is not numeric", severity="warning")
        statistic = ks(old.to_numpy(float), new.to_numpy(float))
        detail = f"KS statistic {statistic:.3f} (mean {old.mean():.4g} → {new.mean():.4g})"
        return result(statistic <= limits.max_baseline_shift, detail, statistic)
    before = old.value_counts(normalize=True)
    after = new.value_counts(normalize=True)
    distance = tvd(before, after)
    p, q = before.align(after, fill_value=0.0)
    change = (q - p).abs().sort_values(ascending=False).head(EXAMPLES)
    moved = [f"{show(label)}: {p[label]:.1%} → {q[label]:.1%}" for label in change.index]
    passed = distance <= limits.max_baseline_shift
    failures = (
        []
        if passed
        else [CheckFailure(check="class_shares", column=target, count=len(p), examples=moved)]
    )
    detail = (
        f"total variation distance of the class shares {distance:.3f} between the baseline's "
        f"and {train.name}" + ("" if passed else f"; largest change {moved[0]}")
    )
    return result(passed, detail, distance, failures=failures)


def _require_numeric(y: pd.Series, table: Table) -> None:
    if not is_numeric(y):
        raise InputError(
            f"{table.name}: target column {y.name!r} is not numeric (dtype {y.dtype}), "
            "but evaluation.task is regression",
            hint="use task: classification for class labels, or fix the column",
        )


def _missing(table: Table, target: str, dataset: str, limits: TargetCheck) -> DataCheck:
    missing = table.frame[target].isna().to_numpy()
    at = np.flatnonzero(missing)[:EXAMPLES]
    examples = [f"{where}: (missing)" for where in table.where(at)]
    count = int(missing.sum())
    return missing_result(count, len(missing), examples, table.name, dataset, target, limits)


def missing_result(
    count: int,
    rows: int,
    examples: list[str],
    name: str,
    dataset: str,
    target: str,
    limits: TargetCheck,
) -> DataCheck:
    """The check from the rows without a target and the first of them."""
    share = count / rows if rows else 0.0
    failures = []
    if count:
        failures.append(
            CheckFailure(
                check="missing_target", column=target, count=count, examples=examples, file=name
            )
        )
    return make_check(
        name="target_missing",
        kind="target",
        dataset=dataset,
        column=target,
        passed=share <= limits.max_missing,
        detail=f"{name}: {plural(count, 'row')} without a target ({share:.1%})",
        setting=f"{_SETTINGS}.max_missing",
        statistic=share,
        threshold=limits.max_missing,
        failures=failures,
    )


def _regression_shift(train: pd.Series, test: pd.Series, limits: TargetCheck) -> DataCheck:
    column = str(train.name)
    if train.empty or test.empty:
        return regression_shift_result(column, None, "no target values to compare", limits)
    statistic = ks(train.to_numpy(float), test.to_numpy(float))
    detail = f"KS statistic {statistic:.3f} (mean {train.mean():.4g} → {test.mean():.4g})"
    return regression_shift_result(column, statistic, detail, limits)


def regression_shift_result(
    column: str, statistic: float | None, detail: str, limits: TargetCheck
) -> DataCheck:
    """A regression target's shift between train and test (None: no values to compare)."""
    return make_check(
        name="target_shift",
        kind="target",
        dataset="train→test",
        column=column,
        passed=statistic is not None and statistic <= limits.max_shift,
        detail=detail,
        setting=f"{_SETTINGS}.max_shift",
        statistic=statistic,
        threshold=limits.max_shift,
    )


def _class_checks(
    train: pd.Series, test_table: Table, target: str, limits: TargetCheck
) -> list[DataCheck]:
    test_all = test_table.frame[target]

    def unseen_rows(classes: pd.Index) -> list[str]:
        at = np.flatnonzero((test_all.notna() & test_all.isin(classes)).to_numpy())[:EXAMPLES]
        return [
            f"{where}: {show(value)}"
            for where, value in zip(test_table.where(at), test_all.iloc[at], strict=True)
        ]

    return class_checks(
        train.value_counts(),
        test_all.dropna().value_counts(),
        unseen_rows,
        target,
        test_table.name,
        limits,
    )


def class_checks(
    train_counts: pd.Series,
    test_counts: pd.Series,
    unseen_rows: Callable[[pd.Index], list[str]],
    target: str,
    test_name: str,
    limits: TargetCheck,
) -> list[DataCheck]:
    """Unseen classes, class balance and the shift of the class shares, from each data set's
    class counts as ``value_counts()`` gives them (largest first) and a function giving the
    first test rows (shown) whose class is among the given ones."""
    train_share = train_counts / train_counts.sum()
    unseen = test_counts[~test_counts.index.isin(train_share.index)]
    unseen_rows_count = int(unseen.sum())
    failures = []
    if len(unseen):
        failures.append(
            CheckFailure(
                check="unseen_class",
                column=target,
                count=unseen_rows_count,
                examples=unseen_rows(unseen.index),
                file=test_name,
            )
        )
    checks = [
        make_check(
            name="unseen_classes",
            kind="target",
            dataset="train→test",
            column=target,
            passed=unseen.empty,
            detail=(
                f"{plural(len(unseen), 'class', 'classes')} of the test data not in the "
                f"training data ({plural(unseen_rows_count, 'test row')}): a model cannot predict "
                "a class it never saw"
                if len(unseen)
                else f"every test class is in the training data ({len(train_share)} classes)"
            ),
            setting=f"{_SETTINGS}.enabled",
            statistic=float(len(unseen)),
            threshold=0.0,
            failures=failures,
        )
    ]
    rare = train_share[train_share < limits.min_class_share]
    smallest = float(train_share.min()) if len(train_share) else 0.0
    checks.append(
        make_check(
            name="class_balance",
            kind="target",
            dataset="train",
            column=target,
            passed=rare.empty,
            detail=f"smallest class share {smallest:.1%} of {plural(len(train_share), 'class', 'classes')}",
            setting=f"{_SETTINGS}.min_class_share",
            statistic=smallest,
            threshold=limits.min_class_share,
            failures=[
                CheckFailure(
                    check="min_class_share",
                    column=target,
                    count=len(rare),
                    examples=[
                        f"{label}: {share:.2%}" for label, share in rare.head(EXAMPLES).items()
                    ],
                )
            ]
            if len(rare)
            else [],
        )
    )
    distance = tvd(train_share, test_counts / test_counts.sum())
    checks.append(
        make_check(
            name="target_shift",
            kind="target",
            dataset="train→test",
            column=target,
            passed=distance <= limits.max_shift,
            detail=f"total variation distance of the class shares {distance:.3f}",
            setting=f"{_SETTINGS}.max_shift",
            statistic=distance,
            threshold=limits.max_shift,
        )
    )
    return checks
