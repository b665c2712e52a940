"""Live drift over a sliding window: the last N rows' bins per column, PSI against a reference.

Numpy (and ``pandas.factorize`` for categorical levels), for one process, a batch at a time. Each column keeps a ring of N small integer codes (its bin, its
level, or "missing"); counts are a ``bincount`` of the ring, so memory is fixed by N whatever
the traffic. Categorical levels the reference never saw get codes of their own, up to
``MAX_NEW_LEVELS`` per column; beyond that they count as "other", so a stream of distinct
strings cannot grow the window's memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.monitoring.bins import MISSING, bin_index, categorical_psi, numeric_psi

MAX_NEW_LEVELS = 50


@dataclass(frozen=True)
class NumericReference:
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    missing: int


@dataclass(frozen=True)
class CategoricalReference:
    frequencies: Mapping[str, int]
    other: int
    missing: int


Reference = NumericReference | CategoricalReference


class _Ring:
    def __init__(self, size: int) -> None:
        self.codes = np.zeros(size, dtype=np.int32)
        self.head = 0
        self.filled = 0

    def add(self, codes: npt.NDArray[Any]) -> None:
        size = len(self.codes)
        if len(codes) >= size:
            codes = codes[-size:]
        positions = (self.head + np.arange(len(codes))) % size
        self.codes[positions] = codes
        self.head = (self.head + len(codes)) % size
        self.filled = min(size, self.filled + len(codes))

    def counts(self, codes: int) -> npt.NDArray[np.int64]:
        return np.bincount(self.codes[: self.filled], minlength=codes).astype(np.int64)


class NumericColumn:
    """Codes ``0 .. K - 1`` are the reference's bins, ``K`` is missing."""

    def __init__(self, reference: NumericReference, size: int) -> None:
        self.reference = reference
        self.bins = len(reference.edges) - 1
        self.ring = _Ring(size)

    def add(self, values: Any) -> None:
        index = bin_index(self.reference.edges, np.asarray(values, dtype=np.float64))
        self.ring.add(np.where(index == MISSING, self.bins, index))

    def psi(self) -> float:
        counts = self.ring.counts(self.bins + 1)
        ref = self.reference
        return numeric_psi(ref.counts, ref.missing, counts[: self.bins], int(counts[self.bins]))


class CategoricalColumn:
    """Codes: the reference's levels, then new levels as they arrive, then other, missing."""

    def __init__(self, reference: CategoricalReference, size: int) -> None:
        self.reference = reference
        self.levels: dict[str, int] = {level: i for i, level in enumerate(reference.frequencies)}
        self.known = len(self.levels)
        self.other = self.known + MAX_NEW_LEVELS
        self.missing = self.other + 1
        self.ring = _Ring(size)

    def _code(self, level: str) -> int:
        code = self.levels.get(level)
        if code is None:
            if len(self.levels) >= self.other:
                return self.other
            code = self.levels[level] = len(self.levels)
        return code

    def add(self, values: Sequence[Any] | npt.NDArray[Any]) -> None:
        """A batch's values: each distinct one is coded once (``pandas.factorize``), then
        the codes are taken for the rows; None and NaN are missing."""
        found, distinct = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        codes = np.array([self._code(str(v)) for v in distinct.tolist()] + [self.missing])
        self.ring.add(codes[found].astype(np.int32))

    def psi(self) -> float:
        counts = self.ring.counts(self.missing + 1)
        live = {level: int(counts[code]) for level, code in self.levels.items() if counts[code]}
        ref = self.reference
        return categorical_psi(
            ref.frequencies,
            ref.other,
            ref.missing,
            live,
            int(counts[self.other]),
            int(counts[self.missing]),
        )


Column = NumericColumn | CategoricalColumn


def column_for(reference: Reference, size: int) -> Column:
    if isinstance(reference, NumericReference):
        return NumericColumn(reference, size)
    return CategoricalColumn(reference, size)


class Window:
    """The last ``size`` live rows of some named columns, each against its reference."""

    def __init__(self, references: Mapping[str, Reference], size: int) -> None:
        self.size = size
        self.columns = {name: column_for(ref, size) for name, ref in references.items()}
        self.rows = 0

    def add(self, columns: Mapping[str, Any]) -> None:
        """One batch: ``columns`` maps a name to its values (all the same length); columns
        without a reference are ignored, and a referenced column absent here is left as is."""
        length = 0
        for name, values in columns.items():
            column = self.columns.get(name)
            if column is not None:
                column.add(values)
                length = len(values)
        self.rows = min(self.size, self.rows + length)

    def psi(self) -> dict[str, float]:
        return {name: column.psi() for name, column in self.columns.items()}
