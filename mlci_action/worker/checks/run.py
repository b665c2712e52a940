"""The worker task "data-tests": read the files once, run every enabled check family."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlci_action.config import DataChecks
from mlci_action.record import DataCheck, DataReport
from mlci_action.worker.checks.baseline import Baseline, load_baseline
from mlci_action.worker.checks.categories import (
    baseline_categories_check,
    categorical_columns,
    categories_check,
)
from mlci_action.worker.checks.columns import columns_check
from mlci_action.worker.checks.constant import constant_check
from mlci_action.worker.checks.drift import drift_checks
from mlci_action.worker.checks.duplicates import duplicates_check
from mlci_action.worker.checks.leakage import leakage_check
from mlci_action.worker.checks.schema import schema_check
from mlci_action.worker.checks.table import Table
from mlci_action.worker.checks.target import baseline_shift_check, target_checks
from mlci_action.worker.frames import split_xy
from mlci_action.worker.schema_loader import load_schema


def run(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("partitioned"):
        from mlci_action.worker.checks.partitioned_run import run_partitioned

        return run_partitioned(request)
    started = time.perf_counter()
    project = Path(request["project_dir"])
    target: str = request["target"]
    task: str = request["task"]
    settings = DataChecks.model_validate(request.get("checks") or {})
    spec: dict[str, Any] | None = request.get("schema_spec")
    schema = load_schema(spec, str(project)) if spec else None

    train = Table.read(project / request["train_path"], request["train_path"], what="training data")
    test = Table.read(project / request["test_path"], request["test_path"], what="test data")
    split_xy(train.frame, target, train.path)  # the target is in both files, or an InputError
    split_xy(test.frame, target, test.path)

    checks: list[DataCheck] = []
    if settings.columns.enabled:
        checks.append(columns_check(train, test, settings.columns))
    if spec and schema is not None:
        label = str(project / spec["path"])
        checks.append(schema_check(schema, train, "train", label))
        checks.append(schema_check(schema, test, "test", label))
    if settings.duplicates.enabled:
        checks.append(duplicates_check(train, "train", settings.duplicates))
        checks.append(duplicates_check(test, "test", settings.duplicates))
    if settings.constant.enabled:
        checks.append(constant_check(train, target))
    if settings.leakage.enabled:
        checks.append(leakage_check(train, test, settings.leakage))
    if settings.categories.enabled:
        columns = categorical_columns(train, test, target, task, settings.categories)
        # the target's test-only classes are the target check's unseen classes
        skip = [target] if settings.target.enabled and task != "regression" else []
        checks.append(
            categories_check(train, test, columns, settings.categories, skip_test_only=skip)
        )
    if settings.target.enabled:
        checks.extend(target_checks(train, test, target, task, settings.target))
    baseline_path = request.get("baseline_train_path")
    if baseline_path and (
        settings.drift.enabled or settings.categories.enabled or settings.target.enabled
    ):
        checks.extend(
            _comparisons(
                load_baseline(project / baseline_path, train), train, target, task, settings
            )
        )

    return DataReport(
        passed=all(check.passed for check in checks if check.severity == "error"),
        rows={"train": len(train.frame), "test": len(test.frame)},
        checks=checks,
        seconds=round(time.perf_counter() - started, 3),
    ).model_dump(mode="json")


def _comparisons(
    baseline: Baseline, train: Table, target: str, task: str, settings: DataChecks
) -> list[DataCheck]:
    """The candidate's training data against the baseline's."""
    checks: list[DataCheck] = []
    old = baseline.table
    if settings.target.enabled and old is not None:
        checks.append(baseline_shift_check(old, train, target, task, settings.target))
    if settings.drift.enabled:
        checks.extend(drift_checks(baseline, train, target, settings.drift))
    if settings.categories.enabled and old is not None:
        columns = categorical_columns(train, old, target, task, settings.categories)
        checks.append(baseline_categories_check(old, train, columns, settings.categories))
    return checks
