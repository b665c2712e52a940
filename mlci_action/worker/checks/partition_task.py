"""The data tests' share of one partition as the ``ray`` executor runs it: in a checker actor
on a node (:mod:`mlci_action.partition_checkers`), given the partition's bytes
(a local file's, through the object store) or its URL (read here)."""

from __future__ import annotations

import io
import os
from functools import cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlci_action.executors.tasks import DataPartition
from mlci_action.worker.checks.partitioned import PartOutcome, RowKeys, check_part
from mlci_action.worker.checks.tally import TallyPlan
from mlci_action.worker.frames import split_xy
from mlci_action.worker.partitions import Partition, read_partition
from mlci_action.worker.schema_loader import load_schema


@cache
def _schema(kind: str, path: str, name: str, project: str) -> pa.DataFrameSchema:
    return load_schema({"kind": kind, "path": path, "name": name}, project)


def read(request: DataPartition, data: bytes | None) -> pd.DataFrame:
    if data is None:
        return read_partition(Partition(request.part_name, request.part_url or ""))
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pandas().reset_index(drop=True)


def check(request: DataPartition, data: bytes | None, train_keys: np.ndarray | None) -> PartOutcome:
    """The partition's outcome; the project (its schema file) is the working directory."""
    frame = read(request, data)
    if request.dataset != "baseline":  # the baseline's partitions tally drift only
        split_xy(frame, request.target, request.part_name)
    spec = request.schema_spec
    project = os.getcwd()
    schema = _schema(spec["kind"], spec["path"], spec.get("name", ""), project) if spec else None
    columns = request.key_columns
    return check_part(
        frame,
        request.part_name,
        request.dataset,
        schema=schema,
        schema_file=os.path.join(project, spec["path"]) if spec else "",
        keys=None if columns is None else RowKeys(columns, request.key_text),
        train_keys=train_keys,
        plan=None if request.tally_plan is None else TallyPlan.from_json(request.tally_plan),
    )
