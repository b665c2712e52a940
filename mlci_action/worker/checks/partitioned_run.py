"""The worker task "data-tests" on a partitioned data set: one partition at a time, in this
process (the local and docker executors; the ``ray`` executor runs one task per partition
instead, :mod:`mlci_action.partitioned`, and merges the same way)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from mlci_action.config import DataChecks
from mlci_action.errors import InputError
from mlci_action.record import DataCheck
from mlci_action.worker.checks.categories import is_categorical
from mlci_action.worker.checks.columns import columns_check
from mlci_action.worker.checks.drift_merged import BaselineOutcome
from mlci_action.worker.checks.drift_tally import DriftPlan
from mlci_action.worker.checks.partitioned import (
    PartOutcome,
    RowKeys,
    TrainKeys,
    check_part,
    empty_frame,
    merged_report,
)
from mlci_action.worker.checks.partitioned_drift import (
    BaselineFiles,
    baseline_spec,
    drift_plan,
    origins,
)
from mlci_action.worker.checks.table import Table
from mlci_action.worker.checks.tally import TallyPlan
from mlci_action.worker.frames import split_xy
from mlci_action.worker.partitions import Partition, partitions, read_partition
from mlci_action.worker.schema_loader import load_schema


def first_checks(
    train: list[Partition],
    test: list[Partition],
    names: tuple[str, str],
    settings: DataChecks,
    target: str,
    task: str,
    baseline: BaselineFiles | None = None,
) -> tuple[list[DataCheck], RowKeys | None, TallyPlan | None]:
    """The columns check, the row keys' plan and the tallies' plan, from the first partitions'
    footers (and the baseline's first file's, for the drift check)."""
    train0, test0 = empty_frame(train[0]), empty_frame(test[0])
    drift = None
    if settings.drift.enabled and baseline is not None and baseline.frame is not None:
        drift = drift_plan(baseline.frame, train0, target, train[0])
    checks = []
    if settings.columns.enabled:
        checks.append(
            columns_check(
                Table(train0, Path(names[0]), names[0]),
                Table(test0, Path(names[1]), names[1]),
                settings.columns,
            )
        )
    keys = RowKeys.shared(train0, test0) if settings.leakage.enabled else None
    plan = tally_plan(train0, test0, target, task, settings, drift)
    if plan is not None and task == "regression" and settings.target.enabled:
        plan = replace(plan, target_origin=origins(train[0], [target]).get(target, 0.0))
    return checks, keys, plan


def tally_plan(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    task: str,
    settings: DataChecks,
    drift: DriftPlan | None = None,
) -> TallyPlan | None:
    """What the partitions tally for the whole-data-set checks (None: those are all off)."""
    wanted = (
        settings.duplicates.enabled,
        settings.constant.enabled,
        settings.categories.enabled,
        settings.target.enabled,
        drift is not None,
    )
    if not any(wanted):
        return None
    levels = [
        str(column)
        for column in train.columns
        if column in test.columns
        and (
            (
                settings.categories.enabled
                and (is_categorical(train[column]) or is_categorical(test[column]))
            )
            or (column == target and task != "regression")
        )
        and (settings.categories.enabled or column == target)
    ]
    return TallyPlan(
        target=target,
        task=task,
        constant=[str(c) for c in train.columns if c != target]
        if settings.constant.enabled
        else [],
        levels=levels,
        text=[c for c in levels if train[c].dtype != test[c].dtype],
        max_levels=settings.categories.max_levels,
        target_checks=settings.target.enabled,
        duplicates=settings.duplicates.enabled,
        drift=drift,
    )


def run_partitioned(request: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    project = Path(request["project_dir"])
    target: str = request["target"]
    settings = DataChecks.model_validate(request.get("checks") or {})
    spec: dict[str, Any] | None = request.get("schema_spec")
    schema = load_schema(spec, str(project)) if spec else None
    label = str(project / spec["path"]) if spec else ""
    names = (request["train_path"], request["test_path"])
    train = partitions(names[0], project, setting="data.train")
    test = partitions(names[1], project, setting="data.test")
    baseline = None
    baseline_train = baseline_spec(
        request.get("baseline_train_path"),
        request.get("baseline_train_glob") or "",
        request.get("baseline_train_url"),
    )
    if baseline_train and settings.drift.enabled:
        baseline = BaselineFiles.find(baseline_train, project, train)
    checks, keys, plan = first_checks(
        train, test, names, settings, target, request["task"], baseline
    )

    def outcome(part: Partition, dataset: str, train_keys: TrainKeys | None) -> PartOutcome:
        frame = read_partition(part)  # one partition in memory at a time
        if dataset == "baseline":  # its drift tallies only
            return check_part(
                frame,
                part.name,
                dataset,
                schema=None,
                schema_file="",
                keys=None,
                path=part.uri,
                plan=None if plan is None else replace(plan, duplicates=False),
            )
        split_xy(frame, target, part.name)  # the target is in every partition, or an InputError
        return check_part(
            frame,
            part.name,
            dataset,
            schema=schema,
            schema_file=label,
            keys=keys,
            train_keys=None if train_keys is None else train_keys.keys,
            path=part.uri,
            plan=plan,
        )

    train_out = [outcome(part, "train", None) for part in train]
    train_keys = TrainKeys.merge(train_out) if keys is not None else None
    test_out = [outcome(part, "test", train_keys) for part in test]
    return merged_report(
        checks,
        train_out,
        test_out,
        names=names,
        train_keys=train_keys,
        settings=settings,
        plan=plan,
        started=started,
        baseline=None
        if baseline is None
        else baseline_outcome(
            baseline, plan, lambda parts: [outcome(part, "baseline", None) for part in parts]
        ),
        columns=[str(c) for c in empty_frame(train[0]).columns],
    ).model_dump(mode="json")


def baseline_outcome(
    baseline: BaselineFiles,
    plan: TallyPlan | None,
    read: Callable[[list[Partition]], list[PartOutcome]],
) -> BaselineOutcome:
    """The baseline's partitions' drift tallies (``read``: their outcomes, read after the
    candidate's); an unreadable partition makes the drift check a note, like an unreadable
    one-file baseline."""
    if plan is None or plan.drift is None or not baseline.compared or baseline.frame is None:
        return BaselineOutcome(problem=baseline.problem, unchanged=baseline.unchanged)
    try:
        parts = read(baseline.parts)
    except InputError as exc:
        return BaselineOutcome(problem=exc.message)
    tallies = [p.tally.drift for p in parts if p.tally is not None and p.tally.drift]
    columns = [str(c) for c in baseline.frame.columns]
    return BaselineOutcome(tallies, columns, plan.drift, plan.target)
