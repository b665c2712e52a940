"""Per-partition check results merged exactly, in file order.

A partitioned data set (:mod:`mlci_action.worker.partitions`) is checked one partition at a
time, by separate workers (Ray tasks) that each hold one file. Row-wise schema checks (types,
nulls, ranges, allowed values, patterns, row-wise dataframe checks) merge exactly: a failure's
count is the sum over the partitions (they share no row), its examples the first ones in file
order, and the failing rows the sum of each partition's. Checks over a whole column (pandera's
``unique``, a check on a column's mean) see one partition at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlci_action.record import CheckFailure, DataCheck
from mlci_action.worker.checks.common import EXAMPLES
from mlci_action.worker.checks.schema import schema_result


@dataclass(frozen=True)
class PartSchema:
    """One partition's schema failures (:func:`.schema.schema_failures`)."""

    name: str
    """The partition's file, as :class:`mlci_action.worker.partitions.Partition` names it."""
    failures: list[CheckFailure]
    rows: int
    """Distinct rows of this partition that failed."""


def merge_schema(parts: Sequence[PartSchema], name: str, dataset: str) -> DataCheck:
    """One schema check for the data set ``name`` from its partitions' results, given in file
    order: one failure per (column, check) in the order first seen, counts summed, the first
    examples in file order (each naming its file when the failure spans several)."""
    merged: dict[tuple[str | None, str], list[tuple[str, CheckFailure]]] = {}
    for part in parts:
        for failure in part.failures:
            merged.setdefault((failure.column, failure.check), []).append((part.name, failure))
    failures = []
    for (column, check), found in merged.items():
        files = [file for file, _ in found]
        several = len(files) > 1
        examples = [
            f"{file}, {example}" if several else example
            for file, failure in found
            for example in failure.examples
        ]
        failures.append(
            CheckFailure(
                check=check,
                column=column,
                count=sum(failure.count for _, failure in found),
                examples=examples[:EXAMPLES],
                file=name if several else files[0],
            )
        )
    return schema_result(failures, sum(part.rows for part in parts), name, dataset)
