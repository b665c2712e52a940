"""Data tests of a partitioned data set: one partition at a time, merged exactly in file order.

Each partition (:mod:`mlci_action.worker.partitions`) is read alone, by one process: the
worker looping over them (local and docker executors) or one Ray task each (the ``ray``
executor, :mod:`mlci_action.partitioned`). Memory is bounded by the largest partition plus
8 bytes per row of each data set (the row keys) and the tallies. What runs, and how it merges:

* ``columns``: from the first partitions' Parquet schemas (no rows read);
* ``schema``: each partition's failures, merged by :func:`.merge.merge_schema` (counts summed,
  the first examples in file order);
* ``leakage``: every row hashed to a 64-bit key over the columns both data sets share
  (numbers as float64, so a partition whose integer column has a null hashes like the
  others); the training partitions first, their keys merged into one sorted array, then each
  test partition counts its rows whose key is in it and shows the first few.

* ``duplicates``, ``constant``, ``categories``, ``target``: each partition's row keys over
  all its columns (``keys`` itself when those are the leakage columns) and small per-column
  tallies (:mod:`.tally`), merged by :mod:`.merged` to the one-file checks' figures.

* ``drift`` (the candidate's training data against the baseline's, either of them one file
  or partitioned): each partition of both tallies its features (:mod:`.drift_tally`, the
  candidate's in the same read as its other checks), merged by :mod:`.drift_merged`.

A regression's target shift and a numeric feature's drift are KS statistics at the bin
edges of :mod:`.drift_tally`'s grid (not over every value; the detail bounds the gap).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlci_action.config import DataChecks
from mlci_action.record import DataCheck, DataReport
from mlci_action.worker.checks import merged
from mlci_action.worker.checks.common import EXAMPLES, is_numeric, show_row
from mlci_action.worker.checks.drift_merged import BaselineOutcome
from mlci_action.worker.checks.leakage import leakage_result
from mlci_action.worker.checks.merge import PartSchema, merge_schema
from mlci_action.worker.checks.merged import Part
from mlci_action.worker.checks.schema import schema_failures
from mlci_action.worker.checks.table import Table
from mlci_action.worker.checks.tally import PartTally, TallyPlan, tally
from mlci_action.worker.partitions import PARQUET, Partition, read_partition


def empty_frame(part: Partition) -> pd.DataFrame:
    """A partition's columns and types, from its Parquet footer (no rows read)."""
    import pyarrow.parquet as pq

    if "://" not in part.uri and not part.uri.lower().endswith(PARQUET):
        return read_partition(part).iloc[:0]  # one CSV/TSV file, the other data set partitioned
    return pq.read_schema(part.uri).empty_table().to_pandas()


@dataclass(frozen=True)
class RowKeys:
    """How a row becomes its 64-bit key: the columns both data sets share (in the training
    data's order), numbers as float64, and text for a column whose types differ otherwise."""

    columns: list[str]
    text: list[str] = field(default_factory=list)

    @classmethod
    def shared(cls, train: pd.DataFrame, test: pd.DataFrame) -> RowKeys:
        columns = [str(c) for c in train.columns if c in test.columns]
        text = [
            c
            for c in columns
            if train[c].dtype != test[c].dtype
            and not (is_numeric(train[c]) and is_numeric(test[c]))
        ]
        return cls(columns, text)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        keyed = frame[self.columns]
        changes = {
            column: keyed[column].astype(str if column in self.text else "float64")
            for column in self.columns
            if column in self.text or is_numeric(keyed[column])
        }
        return keyed.assign(**changes) if changes else keyed

    def hashes(self, frame: pd.DataFrame) -> np.ndarray:
        return pd.util.hash_pandas_object(self.frame(frame), index=False).to_numpy()


@dataclass(frozen=True)
class PartOutcome:
    """One partition's share of the checks."""

    name: str
    rows: int
    schema: PartSchema | None = None
    keys: np.ndarray | None = None
    """A training partition's row keys, in row order."""
    leaked: int = 0
    """A test partition's rows whose key is among the training keys."""
    leaks: list[tuple[int, int, str]] = field(default_factory=list)
    """(row from 0, key, the row shown) of its first leaked rows."""
    tally: PartTally | None = None
    """Its columns' tallies (constant, categories, target)."""
    row_keys: np.ndarray | None = None
    """Its rows' keys over all its columns, for the duplicates (``keys`` itself when those
    are the same columns)."""

    @property
    def part(self) -> Part:
        return Part(self.name, self.rows, self.tally, self.row_keys)

    def to_json(self) -> dict[str, Any]:
        """Everything but the keys (which travel as a .npy file)."""
        return {
            "name": self.name,
            "rows": self.rows,
            "schema": None
            if self.schema is None
            else {
                "failures": [f.model_dump(mode="json") for f in self.schema.failures],
                "rows": self.schema.rows,
            },
            "leaked": self.leaked,
            "leaks": [list(leak) for leak in self.leaks],
            "tally": None if self.tally is None else self.tally.to_json(),
            "row_keys_are_keys": self.row_keys is not None and self.row_keys is self.keys,
        }

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        keys: np.ndarray | None = None,
        row_keys: np.ndarray | None = None,
    ) -> PartOutcome:
        """``row_keys``: when they are not ``keys`` (``to_json`` says)."""
        from mlci_action.record import CheckFailure

        schema = data["schema"]
        return cls(
            name=data["name"],
            rows=data["rows"],
            schema=None
            if schema is None
            else PartSchema(
                data["name"],
                [CheckFailure.model_validate(f) for f in schema["failures"]],
                schema["rows"],
            ),
            keys=keys,
            leaked=data["leaked"],
            leaks=[(int(r), int(k), str(s)) for r, k, s in data["leaks"]],
            tally=None if data["tally"] is None else PartTally.from_json(data["tally"]),
            row_keys=keys if data["row_keys_are_keys"] else row_keys,
        )


def check_part(
    frame: pd.DataFrame,
    name: str,
    dataset: str,
    *,
    schema: pa.DataFrameSchema | None,
    schema_file: str,
    keys: RowKeys | None,
    train_keys: np.ndarray | None = None,
    path: str | None = None,
    plan: TallyPlan | None = None,
) -> PartOutcome:
    """The checks of one partition; ``train_keys`` (sorted, distinct): a test partition's
    leakage against them; ``path``: where it was read (a CSV file's rows are named by line);
    ``plan``: the tallies and row keys the whole-data-set checks merge."""
    table = Table(frame, Path(path or name), name)
    part_schema = None
    if schema is not None:
        failures, rows = schema_failures(schema, table, dataset, schema_file)
        part_schema = PartSchema(name, failures, rows)
    tallied = None if plan is None else tally(frame, dataset, plan, name)
    hashes = None if keys is None else keys.hashes(frame)
    row_keys = None
    if plan is not None and plan.duplicates:
        every = RowKeys([str(c) for c in frame.columns])
        same = keys is not None and keys.columns == every.columns and not keys.text
        row_keys = hashes if same else every.hashes(frame)
    outcome = PartOutcome(name, len(frame), part_schema, tally=tallied, row_keys=row_keys)
    if keys is None or hashes is None:
        return outcome
    if train_keys is None:
        return replace(outcome, keys=hashes)
    at = np.searchsorted(train_keys, hashes).clip(0, max(len(train_keys) - 1, 0))
    leaked = train_keys[at] == hashes if len(train_keys) else np.zeros(len(hashes), bool)
    first = np.flatnonzero(leaked)[:EXAMPLES]
    shown = frame[keys.columns].iloc[first].itertuples(index=False)
    leaks = [(int(r), int(hashes[r]), show_row(v)) for r, v in zip(first, shown, strict=True)]
    return replace(outcome, leaked=int(leaked.sum()), leaks=leaks)


@dataclass(frozen=True)
class TrainKeys:
    """The training partitions' keys: sorted and distinct, each with its first row."""

    keys: np.ndarray
    first: np.ndarray
    """Position of each key's first row in the partitions' rows, in file order."""
    ends: np.ndarray
    names: list[str]

    @classmethod
    def merge(cls, parts: Sequence[PartOutcome]) -> TrainKeys:
        every = [p.keys if p.keys is not None else np.empty(0, np.uint64) for p in parts]
        keys, first = np.unique(np.concatenate(every), return_index=True)
        ends = np.cumsum([len(k) for k in every])
        return cls(keys, first, ends, [p.name for p in parts])

    def where(self, key: int) -> str:
        """``data/train/part-3.parquet row 14``: the first training row with this key."""
        position = int(self.first[np.searchsorted(self.keys, np.uint64(key))])
        part = int(np.searchsorted(self.ends, position, side="right"))
        start = int(self.ends[part - 1]) if part else 0
        return f"{self.names[part]} row {position - start + 1}"


def merged_checks(
    train: Sequence[PartOutcome],
    test: Sequence[PartOutcome],
    *,
    names: tuple[str, str],
    train_keys: TrainKeys | None,
    settings: DataChecks,
    plan: TallyPlan | None,
    baseline: BaselineOutcome | None = None,
    columns: list[str] | None = None,
) -> list[DataCheck]:
    """The checks of both data sets from their partitions' outcomes in file order, in the
    one-file checks' order; ``names``: data.train and data.test as mlci.yaml gives them;
    ``baseline``: for the drift check, with ``columns`` the training data's first file's."""
    checks = []
    for parts, name, dataset in ((train, names[0], "train"), (test, names[1], "test")):
        schemas = [p.schema for p in parts if p.schema is not None]
        if schemas:
            checks.append(merge_schema(schemas, name, dataset))
    left, right = [p.part for p in train], [p.part for p in test]
    if plan is not None and settings.duplicates.enabled:
        checks.append(merged.duplicates(left, names[0], "train", settings.duplicates))
        checks.append(merged.duplicates(right, names[1], "test", settings.duplicates))
    if plan is not None and settings.constant.enabled:
        checks.append(merged.constant(left, plan, names[0]))
    if settings.leakage.enabled and train_keys is not None:
        examples = [
            f"{part.name} row {row + 1} = {train_keys.where(key)}: {shown}"
            for part in test
            for row, key, shown in part.leaks
        ][:EXAMPLES]
        count = sum(part.leaked for part in test)
        checks.append(leakage_result(count, examples, names[0], names[1], settings.leakage))
    if plan is not None and settings.categories.enabled:
        checks.append(merged.categories(left, right, plan, names, settings.categories))
    if plan is not None and settings.target.enabled:
        checks.extend(merged.target(left, right, plan, names, settings.target))
    if settings.drift.enabled and baseline is not None:
        tallies = [p.tally.drift for p in train if p.tally is not None and p.tally.drift]
        checks.extend(baseline.checks(tallies, columns or [], settings.drift))
    return checks


def merged_report(
    checks: list[DataCheck],
    train: Sequence[PartOutcome],
    test: Sequence[PartOutcome],
    *,
    names: tuple[str, str],
    train_keys: TrainKeys | None,
    settings: DataChecks,
    plan: TallyPlan | None,
    started: float,
    baseline: BaselineOutcome | None = None,
    columns: list[str] | None = None,
) -> DataReport:
    """The data report of a partitioned data set: the ``checks`` made on its first files,
    then :func:`merged_checks`; rows summed over the partitions; seconds since ``started``
    (a ``time.perf_counter()``); ``baseline`` and ``columns``: :func:`merged_checks`'."""
    checks = [
        *checks,
        *merged_checks(
            train,
            test,
            names=names,
            train_keys=train_keys,
            settings=settings,
            plan=plan,
            baseline=baseline,
            columns=columns,
        ),
    ]
    return DataReport(
        passed=all(check.passed for check in checks if check.severity == "error"),
        rows={"train": sum(p.rows for p in train), "test": sum(p.rows for p in test)},
        checks=checks,
        seconds=round(time.perf_counter() - started, 3),
    )
