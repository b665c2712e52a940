"""The data tests of a partitioned data set on the ``ray`` executor: one Ray task per
partition, merged on the runner in file order.

A local partition's bytes travel through Ray's object store (each file put once); a URL's
partition (``file://``, ``s3://``, ``gs://``) is read by its task. The training partitions run
first, each returning its rows' 64-bit keys (8 bytes a row, never the rows); the runner merges
them into one sorted array, put once in the object store, which every test partition's task
gets to count its leaked rows. The merge is the worker's own
(:mod:`mlci_action.worker.checks.partitioned`), so the result equals the local executor's,
which loops over the same partitions in one process.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np

from mlci_action.config import DataChecks
from mlci_action.executors.base import Runtime
from mlci_action.executors.tasks import DataPartition, DataTests
from mlci_action.record import DataReport
from mlci_action.worker.checks.partitioned import PartOutcome, TrainKeys, merged_checks
from mlci_action.worker.checks.partitioned_run import first_checks
from mlci_action.worker.partitions import Partition, partitions

PARALLEL = 16
"""Partitions in flight at once (Ray queues what the cluster's CPUs cannot take yet)."""


def data_tests(runtime: Runtime, request: DataTests, cwd: Path, log: Path | None) -> DataReport:
    started = time.perf_counter()
    project = Path(request.project_dir)
    settings = DataChecks.model_validate(request.checks)
    names = (request.train_path, request.test_path)
    train = partitions(names[0], project, setting="data.train")
    test = partitions(names[1], project, setting="data.test")
    checks, keys = first_checks(train, test, names, settings)
    with tempfile.TemporaryDirectory(prefix="mlci-partitions-") as scratch:
        folder = Path(scratch)

        def one(
            at: int, part: Partition, dataset: Literal["train", "test"], train_keys: Path | None
        ) -> PartOutcome:
            local = "://" not in part.uri
            keys_path = folder / f"keys-{at}.npy" if dataset == "train" and keys else None
            task = DataPartition(
                project_dir=request.project_dir,
                part_name=part.name,
                part_file=part.uri if local else None,
                part_url=None if local else part.uri,
                dataset=dataset,
                target=request.target,
                schema_spec=request.schema_spec,
                key_columns=None if keys is None else keys.columns,
                key_text=[] if keys is None else keys.text,
                train_keys=None if train_keys is None else str(train_keys),
                keys_path=None if keys_path is None else str(keys_path),
            )
            result = runtime.call(task, cwd=cwd, lane="project", log=_log(log, dataset, at))
            hashes = np.load(keys_path) if keys_path is not None else None
            return PartOutcome.from_json(result, hashes)

        with ThreadPoolExecutor(min(PARALLEL, max(len(train), len(test)))) as pool:
            train_out = list(pool.map(lambda a: one(a[0], a[1], "train", None), enumerate(train)))
            train_keys = TrainKeys.merge(train_out) if keys is not None else None
            merged = None
            if train_keys is not None:
                merged = folder / "train-keys.npy"
                np.save(merged, train_keys.keys, allow_pickle=False)
            test_out = list(pool.map(lambda a: one(a[0], a[1], "test", merged), enumerate(test)))
    checks += merged_checks(
        train_out,
        test_out,
        names=names,
        train_keys=train_keys,
        leakage=settings.leakage if settings.leakage.enabled else None,
    )
    return DataReport(
        passed=all(check.passed for check in checks if check.severity == "error"),
        rows={"train": sum(p.rows for p in train_out), "test": sum(p.rows for p in test_out)},
        checks=checks,
        seconds=round(time.perf_counter() - started, 3),
    )


def _log(log: Path | None, dataset: str, at: int) -> Path | None:
    return None if log is None else log.with_name(f"{log.stem}-{dataset}-{at:04d}{log.suffix}")
