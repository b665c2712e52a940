"""What the drift check of partitioned data decides before any partition is read, from the
files' list and Parquet footers: the baseline's partitions and columns, the columns compared
as numbers or as categories, and each numeric column's grid origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlci_action.errors import InputError
from mlci_action.worker.checks.baseline import same_files
from mlci_action.worker.checks.common import is_numeric
from mlci_action.worker.checks.drift_tally import DriftPlan
from mlci_action.worker.partitions import PARQUET, Partition, partitions


def baseline_spec(path: str | None, glob: str, url: str | None) -> str | None:
    """The baseline's data.train as one setting (the data-tests request's three fields)."""
    if url:
        return url
    if path and glob:
        return f"{path.rstrip('/')}/{glob}"
    return path


@dataclass(frozen=True)
class BaselineFiles:
    """The baseline's training data as partitions (a one-file baseline: one), or why not."""

    parts: list[Partition] = field(default_factory=list)
    frame: pd.DataFrame | None = None
    """Its first file's columns and types (no rows)."""
    problem: str | None = None
    unchanged: bool = False

    @classmethod
    def find(cls, spec: str, project: Path, train: list[Partition]) -> BaselineFiles:
        """Advisory like the one-file check: a baseline that cannot be listed is a note."""
        from mlci_action.worker.checks.partitioned import empty_frame

        try:
            parts = partitions(spec, project, setting="the baseline's data.train")
            if same_files(parts, train):
                return cls(parts, unchanged=True)
            return cls(parts, empty_frame(parts[0]))
        except InputError as exc:
            return cls(problem=exc.message)
        except (OSError, ValueError) as exc:
            return cls(problem=f"the baseline's data.train cannot be read: {exc}")

    @property
    def compared(self) -> bool:
        """Its partitions are to be read."""
        return self.frame is not None and self.problem is None and not self.unchanged


def drift_plan(
    baseline: pd.DataFrame, train: pd.DataFrame, target: str, first: Partition
) -> DriftPlan:
    """The shared feature columns: numeric on both sides (binned) or not (categories);
    ``first``: the candidate's first training file, whose footer gives the origins."""
    shared = [str(c) for c in train.columns if c in baseline.columns and c != target]
    numeric = [c for c in shared if is_numeric(baseline[c]) and is_numeric(train[c])]
    return DriftPlan(
        numeric=numeric,
        levels=[c for c in shared if c not in numeric],
        origins=origins(first, numeric),
    )


def origins(part: Partition, columns: list[str]) -> dict[str, float]:
    """Each column's minimum in the first row group's Parquet statistics (none for a column
    without statistics, or a file that is not Parquet: origin 0)."""
    import pyarrow.parquet as pq

    if not columns or ("://" not in part.uri and not part.uri.lower().endswith(PARQUET)):
        return {}
    meta = pq.read_metadata(part.uri)
    if not meta.num_row_groups:
        return {}
    group = meta.row_group(0)
    found = {}
    for at in range(group.num_columns):
        chunk = group.column(at)
        stats = chunk.statistics
        if chunk.path_in_schema not in columns or stats is None or not stats.has_min_max:
            continue
        try:
            minimum = float(stats.min)
        except (TypeError, ValueError):
            continue
        if np.isfinite(minimum):
            found[chunk.path_in_schema] = minimum
    return found
