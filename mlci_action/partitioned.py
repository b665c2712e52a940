"""The data tests and the scoring of a partitioned data set on the ``ray`` executor: one Ray
(actor) task per partition, merged on the runner in file order.

The training partitions go first, each returning its rows' 64-bit keys (8 bytes a row, never
the rows); the runner merges them into one sorted array, put once in the object store, which
every test partition's task gets to count its leaked rows. Every task also returns its small
per-column tallies and (duplicates) its rows' keys over all its columns, the training keys
themselves when those are the same columns. The merge is the worker's own
(:mod:`mlci_action.worker.checks.partitioned`), so the result equals the local executor's,
which loops over the same partitions in one process.

The scoring (:func:`evaluate`) gets each test partition's answers back (labels and
probabilities, a few bytes a row) and evaluates them on the runner as the local worker does
(:func:`mlci_action.worker.partition_scores.merged`): the same metrics, and the same Poisson
bootstrap intervals (weights seeded per partition index), whichever node scored which
partition.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlci_action.config import DataChecks
from mlci_action.executors.base import Runtime
from mlci_action.executors.tasks import DataPartition, DataTests, Evaluate, ScorePartition
from mlci_action.record import DataReport, Evaluation
from mlci_action.worker.checks.partitioned import TrainKeys, empty_frame, merged_report
from mlci_action.worker.checks.partitioned_drift import BaselineFiles, baseline_spec
from mlci_action.worker.checks.partitioned_run import baseline_outcome, first_checks
from mlci_action.worker.partitions import Partition, partitions

if TYPE_CHECKING:
    from mlci_action.executors.ray_cluster.runtime import RayRuntime


def _ray(runtime: Runtime) -> RayRuntime:
    from mlci_action.executors.ray_cluster.runtime import RayRuntime

    if not isinstance(runtime, RayRuntime):
        raise TypeError("partitioned data on the cluster needs the ray executor's runtime")
    return runtime


def evaluate(runtime: Runtime, request: Evaluate) -> Evaluation:
    """The evaluate task's result on a partitioned ``data.test``: a scorer task per partition."""
    from mlci_action.partition_scorers import Scorers
    from mlci_action.worker.partition_scores import merged

    ray_runtime = _ray(runtime)
    test = partitions(request.test_path, Path.cwd(), setting="data.test")
    asked = request.model_dump(mode="json")
    models = (
        Path(request.candidate_model),
        None if request.baseline_model is None else Path(request.baseline_model),
    )
    scorers = Scorers(ray_runtime, len(test))
    try:
        found = scorers.run(
            [
                (
                    ScorePartition(
                        evaluate=asked,
                        part_name=part.name,
                        part_url=part.uri if "://" in part.uri else None,
                        first=index == 0,
                    ),
                    None if "://" in part.uri else Path(part.uri),
                )
                for index, part in enumerate(test)
            ],
            models,
        )
    finally:
        scorers.close()
    return merged(asked, found)


def data_tests(runtime: Runtime, request: DataTests) -> DataReport:
    from mlci_action.partition_checkers import Checkers

    runtime = _ray(runtime)
    started = time.perf_counter()
    project = Path(request.project_dir)
    settings = DataChecks.model_validate(request.checks)
    names = (request.train_path, request.test_path)
    train = partitions(names[0], project, setting="data.train")
    test = partitions(names[1], project, setting="data.test")
    baseline = None
    baseline_train = baseline_spec(
        request.baseline_train_path, request.baseline_train_glob, request.baseline_train_url
    )
    if baseline_train and settings.drift.enabled:
        baseline = BaselineFiles.find(baseline_train, project, train)
    checks, keys, plan = first_checks(
        train, test, names, settings, request.target, request.task, baseline
    )

    def asked(
        part: Partition, dataset: Literal["train", "test", "baseline"]
    ) -> tuple[DataPartition, Path | None]:
        local = "://" not in part.uri
        if dataset == "baseline":  # its drift tallies only
            assert plan is not None
            return DataPartition(
                part_name=part.name,
                part_url=None if local else part.uri,
                dataset=dataset,
                target=request.target,
                tally_plan=replace(plan, duplicates=False).to_json(),
            ), Path(part.uri) if local else None
        return DataPartition(
            part_name=part.name,
            part_url=None if local else part.uri,
            dataset=dataset,
            target=request.target,
            schema_spec=request.schema_spec,
            key_columns=None if keys is None else keys.columns,
            key_text=[] if keys is None else keys.text,
            tally_plan=None if plan is None else plan.to_json(),
        ), Path(part.uri) if local else None

    checkers = Checkers(runtime, max(len(train), len(test)))
    try:
        train_out = checkers.run([asked(part, "train") for part in train])
        train_keys = TrainKeys.merge(train_out) if keys is not None else None
        test_out = checkers.run(
            [asked(part, "test") for part in test],
            None if train_keys is None else train_keys.keys,
        )
        outcome = None
        if baseline is not None:
            outcome = baseline_outcome(
                baseline,
                plan,
                lambda parts: checkers.run([asked(part, "baseline") for part in parts]),
            )
    finally:
        checkers.close()
    return merged_report(
        checks,
        train_out,
        test_out,
        names=names,
        train_keys=train_keys,
        settings=settings,
        plan=plan,
        started=started,
        baseline=outcome,
        columns=[str(c) for c in empty_frame(train[0]).columns],
    )
