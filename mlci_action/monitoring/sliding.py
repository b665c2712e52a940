"""Live drift over a sliding window: the last N rows' bins per column, PSI against a reference.

Numpy (and ``pandas.factorize`` for categorical levels), for one process, a batch at a
time: each column's values become small integer codes (its bin, its level, or "missing") in one
vectorised call, written into a ring of N rows; counts are a ``bincount`` of the ring when the
gauges are read, so memory is fixed by N whatever the traffic. Categorical levels the
reference never saw get codes of their own, up to ``MAX_NEW_LEVELS`` per column; beyond that
they count as "other", so a stream of distinct strings cannot grow the window's memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.monitoring.bins import categorical_psi, numeric_psi

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


class NumericColumn:
    """Codes ``0 .. K - 1`` are the reference's bins, ``K`` is missing: :func:`bins.bin_index`'s
    rule (``searchsorted`` on the inner edges already lies in ``0 .. K - 1``, so its clip is
    a no-op), with the inner edges made an array once."""

    def __init__(self, reference: NumericReference) -> None:
        self.reference = reference
        self.bins = len(reference.edges) - 1
        self.inner = np.asarray(reference.edges[1:-1], dtype=np.float64)
        self.size = self.bins + 1

    def codes(self, values: Any) -> npt.NDArray[np.int32]:
        x = np.asarray(values, dtype=np.float64)
        index = np.searchsorted(self.inner, x, side="right").astype(np.int32)
        index[np.isnan(x)] = self.bins
        return index

    def psi(self, counts: npt.NDArray[np.int64]) -> float:
        ref = self.reference
        return numeric_psi(ref.counts, ref.missing, counts[: self.bins], int(counts[self.bins]))


class CategoricalColumn:
    """Codes: the reference's levels, then new levels as they arrive, then other, missing."""

    def __init__(self, reference: CategoricalReference) -> None:
        self.reference = reference
        self.levels: dict[str, int] = {level: i for i, level in enumerate(reference.frequencies)}
        self.known = len(self.levels)
        self.other = self.known + MAX_NEW_LEVELS
        self.missing = self.other + 1
        self.size = self.missing + 1

    def _code(self, level: str) -> int:
        code = self.levels.get(level)
        if code is None:
            if len(self.levels) >= self.other:
                return self.other
            code = self.levels[level] = len(self.levels)
        return code

    def codes(self, values: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.int32]:
        """Each distinct value is coded once (``pandas.factorize``), then the codes are taken
        for the rows; None and NaN are missing."""
        found, distinct = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        codes = np.array([self._code(str(v)) for v in distinct.tolist()] + [self.missing])
        return codes[found].astype(np.int32)

    def psi(self, counts: npt.NDArray[np.int64]) -> float:
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


def column_for(reference: Reference) -> Column:
    if isinstance(reference, NumericReference):
        return NumericColumn(reference)
    return CategoricalColumn(reference)


EMPTY = -1
"""The code of a slot no row has filled (or whose column a batch did not have)."""


class Window:
    """The last ``size`` live rows of some named columns, each against its reference: one ring
    of ``size`` rows by column of small integer codes, written a batch at a time."""

    def __init__(self, references: Mapping[str, Reference], size: int) -> None:
        self.size = size
        self.columns = {name: column_for(ref) for name, ref in references.items()}
        self.codes = np.full((size, len(self.columns)), EMPTY, dtype=np.int32)
        self.head = 0
        self.rows = 0

    def add(self, columns: Mapping[str, Any]) -> None:
        """One batch: ``columns`` maps a name to its values (all the same length); columns
        without a reference are ignored, and a referenced column absent here counts none of
        the batch's rows."""
        lengths = {len(values) for name, values in columns.items() if name in self.columns}
        if not lengths:
            return
        (length,) = lengths
        keep = min(length, self.size)
        block = np.full((keep, len(self.columns)), EMPTY, dtype=np.int32)
        for j, (name, column) in enumerate(self.columns.items()):
            if name in columns:
                block[:, j] = column.codes(columns[name][length - keep :])
        positions = (self.head + np.arange(keep)) % self.size
        self.codes[positions] = block
        self.head = (self.head + keep) % self.size
        self.rows = min(self.size, self.rows + length)

    def psi(self) -> dict[str, float]:
        """A bincount and a PSI per column: when the gauges are read, not per batch."""
        found = {}
        for j, (name, column) in enumerate(self.columns.items()):
            codes = self.codes[:, j]
            counts = np.bincount(codes[codes != EMPTY], minlength=column.size)
            found[name] = column.psi(counts.astype(np.int64))
        return found
