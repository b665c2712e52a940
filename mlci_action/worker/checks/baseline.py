"""The baseline's training data, read once for every comparison (drift, categories, target)."""

from __future__ import annotations

import filecmp
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlci_action.errors import InputError
from mlci_action.worker.checks.table import Table
from mlci_action.worker.partitions import Partition


@dataclass(frozen=True)
class Baseline:
    table: Table | None
    """None when it could not be read (then ``problem`` says why)."""
    unchanged: bool = False
    """The file is byte for byte the candidate's: ``table`` is the candidate's own."""
    problem: str | None = None


def load_baseline(path: Path, candidate: Table) -> Baseline:
    """Comparisons are advisory context: an unreadable baseline is a note, never a stop."""
    if path.is_file() and filecmp.cmp(path, candidate.path, shallow=False):
        return Baseline(candidate, unchanged=True)
    try:
        return Baseline(Table.read(path, f"baseline {path.name}", what="baseline training data"))
    except InputError as exc:
        return Baseline(None, problem=exc.message)


def same_files(baseline: Sequence[Partition], candidate: Sequence[Partition]) -> bool:
    """The baseline's partitions are the candidate's, file for file and byte for byte (local
    files only: a URL is never taken as unchanged)."""
    return len(baseline) == len(candidate) and all(
        "://" not in a.uri
        and "://" not in b.uri
        and Path(a.uri).is_file()
        and filecmp.cmp(a.uri, b.uri, shallow=False)
        for a, b in zip(baseline, candidate, strict=True)
    )
