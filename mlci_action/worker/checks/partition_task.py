"""The worker task "data-partition": the data tests' share of one partition (one Ray task)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlci_action.worker.checks.partitioned import RowKeys, check_part
from mlci_action.worker.frames import split_xy
from mlci_action.worker.partitions import Partition, read_partition
from mlci_action.worker.schema_loader import load_schema


def run(request: dict[str, Any]) -> dict[str, Any]:
    name: str = request["part_name"]
    part = Partition(name, request["part_file"] or request["part_url"])
    spec: dict[str, Any] | None = request.get("schema_spec")
    project = request["project_dir"]
    schema = load_schema(spec, project) if spec else None
    frame = read_partition(part)
    split_xy(frame, request["target"], name)
    columns = request.get("key_columns")
    keys = None if columns is None else RowKeys(columns, request.get("key_text") or [])
    train_keys = np.load(request["train_keys"]) if request.get("train_keys") else None
    outcome = check_part(
        frame,
        name,
        request["dataset"],
        schema=schema,
        schema_file=str(Path(project) / spec["path"]) if spec else "",
        keys=keys,
        train_keys=train_keys,
        path=part.uri,
    )
    if request.get("keys_path") and outcome.keys is not None:
        with open(request["keys_path"], "wb") as handle:
            np.save(handle, outcome.keys, allow_pickle=False)
    return outcome.to_json()
