"""Live drift over a sliding window: the last N rows' bins per column, PSI against a reference.

Numpy (and ``pandas.factorize`` for categorical levels), for one process, a batch at a
time: each column's values become small integer codes (its bin, its level, or "missing"),
all numeric columns of a small batch in one call, written into a ring of N rows; the counts of
those codes are kept as rows enter and leave the ring (one ``bincount`` a batch), and the PSIs
are read from them (the numeric columns in one vectorised computation), so memory is fixed by
N whatever the traffic and neither side holds the GIL for long. Categorical levels the
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

from mlci_action.monitoring.bins import categorical_psi, numeric_psi, psi_rows

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
        """Each distinct value is coded once (``pandas.factorize``, or ``numpy.unique`` for
        arrays that cannot hold None or NaN), in order of first appearance, then the codes
        are taken for the rows; None and NaN are missing."""
        array = np.asarray(values)
        if array.dtype.kind in "biuU":  # no None, no NaN: numpy's unique, cheaper than
            # factorize for a few rows, put in order of first appearance as factorize has it
            distinct, first, found = np.unique(array, return_index=True, return_inverse=True)
            order = np.argsort(first)
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            distinct, found = distinct[order], rank[found]
        else:
            found, distinct = pd.factorize(array.astype(object), use_na_sentinel=True)
        codes = np.array([self._code(str(v)) for v in distinct.tolist()] + [self.missing])
        return codes[found.reshape(-1)].astype(np.int32)

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


PENDING_ROWS = 4096
"""Rows :meth:`Window.add` lets wait before it bins them, at most (memory: the batches' own
arrays, kept by reference)."""

BROADCAST_ROWS = 256
"""Batches up to this many rows bin all numeric columns in one broadcast comparison (few numpy
calls, so the writer holds the GIL briefly); larger ones a ``searchsorted`` per column (less
work per row)."""


class Window:
    """The last ``size`` live rows of some named columns, each against its reference: one ring
    of ``size`` rows by column of small integer codes, written a batch at a time, and the
    counts of those codes, kept up to date as rows come and go.

    Every column's codes live in one flat range (column ``j``'s code ``c`` is ``offset[j] + c``,
    an empty slot is the last code), so a batch's counts are one ``bincount`` and all numeric
    columns are binned together; the PSI is read from the counts, never from the ring."""

    def __init__(self, references: Mapping[str, Reference], size: int) -> None:
        self.size = size
        self.columns = {name: column_for(ref) for name, ref in references.items()}
        sizes = [column.size for column in self.columns.values()]
        self.offsets = np.cumsum([0, *sizes[:-1]]).astype(np.int32)
        self.empty = int(sum(sizes))
        self.codes = np.full((size, len(self.columns)), self.empty, dtype=np.int32)
        self.counts = np.zeros(self.empty + 2, dtype=np.int64)  # + empty, + an always-0 slot
        self.counts[self.empty] = self.codes.size
        self.head = 0
        self.rows = 0
        self._pending: list[dict[str, Any]] = []
        self._pending_rows = 0
        numeric = [
            (j, name, column)
            for j, (name, column) in enumerate(self.columns.items())
            if isinstance(column, NumericColumn)
        ]
        self._numeric = numeric
        self._numeric_at = np.array([j for j, _, _ in numeric], dtype=np.intp)
        self._numeric_psi = _NumericPsi([c for _, _, c in numeric], self.offsets[self._numeric_at])
        widest = max((len(c.inner) for _, _, c in numeric), default=0)
        self._inner = np.full((len(numeric), widest), np.nan)  # NaN pads: never <= a value
        for i, (_, _, column) in enumerate(numeric):
            self._inner[i, : len(column.inner)] = column.inner
        self._missing = np.array([c.bins for _, _, c in numeric], dtype=np.int32)

    def add(self, columns: Mapping[str, Any]) -> None:
        """One batch: ``columns`` maps a name to its values (all the same length); columns
        without a reference are ignored, and a referenced column absent here counts none of
        the batch's rows.

        The values are kept (by reference: they must not change afterwards) and binned when
        the PSIs are read or ``PENDING_ROWS`` rows wait, many batches in one go: a batch
        costs the caller (the inference log's writer, which holds the GIL meanwhile) a few
        list operations."""
        lengths = {len(values) for name, values in columns.items() if name in self.columns}
        if not lengths:
            return
        (length,) = lengths
        keep = min(length, self.size)
        part = {name: values[length - keep :] for name, values in columns.items()}
        self._pending.append({name: part[name] for name in self.columns if name in part})
        self._pending_rows += keep
        self.rows = min(self.size, self.rows + length)
        if self._pending_rows >= PENDING_ROWS:
            self._settle()

    def _settle(self) -> None:
        """Bin what waits: consecutive batches with the same columns as one block."""
        pending, self._pending, self._pending_rows = self._pending, [], 0
        group: list[dict[str, Any]] = []
        for part in pending:
            if group and part.keys() != group[0].keys():
                self._bin(_joined(group))
                group = []
            group.append(part)
        if group:
            self._bin(_joined(group))

    def _bin(self, columns: Mapping[str, Any]) -> None:
        """Into the ring and the counts: the last ``size`` rows of one block."""
        length = len(next(iter(columns.values())))
        keep = min(length, self.size)
        block = np.full((keep, len(self.columns)), self.empty, dtype=np.int32)
        present = [(j, name) for j, name, _ in self._numeric if name in columns]
        if present and len(present) == len(self._numeric) and keep <= BROADCAST_ROWS:
            values = np.stack(
                [
                    np.asarray(columns[name][length - keep :], dtype=np.float64)
                    for _, name in present
                ],
                axis=1,
            )
            block[:, self._numeric_at] = self._bin_together(values) + self.offsets[self._numeric_at]
            present = []
        for j, name in [*present, *self._categorical(columns)]:
            column = self.columns[name]
            block[:, j] = column.codes(columns[name][length - keep :]) + self.offsets[j]
        positions = (self.head + np.arange(keep)) % self.size
        gone = self.codes[positions]
        self.codes[positions] = block
        width = len(self.counts)
        self.counts += np.bincount(block.ravel(), minlength=width)
        self.counts -= np.bincount(gone.ravel(), minlength=width)
        self.head = (self.head + keep) % self.size

    def _categorical(self, columns: Mapping[str, Any]) -> list[tuple[int, str]]:
        return [
            (j, name)
            for j, (name, column) in enumerate(self.columns.items())
            if name in columns and isinstance(column, CategoricalColumn)
        ]

    def _bin_together(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
        """:meth:`NumericColumn.codes` of every numeric column at once: a value's bin is the
        number of inner edges ``<=`` it (``searchsorted(..., side="right")``)."""
        index = np.add.reduce(values[:, :, None] >= self._inner[None], axis=2, dtype=np.int32)
        return np.where(np.isnan(values), self._missing, index)

    def psi(self) -> dict[str, float]:
        """A PSI per column from the kept counts: the numeric columns in one vectorised
        computation, the categorical ones each with :func:`bins.categorical_psi`."""
        self._settle()
        names = [name for _, name, _ in self._numeric]
        found = dict(zip(names, self._numeric_psi(self.counts), strict=True))
        for j, (name, column) in enumerate(self.columns.items()):
            if isinstance(column, CategoricalColumn):
                start = int(self.offsets[j])
                found[name] = column.psi(self.counts[start : start + column.size])
        return {name: found[name] for name in self.columns}


def _joined(parts: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """Batches with the same columns as one: each column's values end to end."""
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([np.asarray(p[name]) for p in parts]) for name in parts[0]}


class _NumericPsi:
    """:func:`bins.numeric_psi` of many numeric columns at once, as one padded matrix: the
    missing bin is always there (it adds nothing when both sides have no missing rows: both
    proportions are clipped to the same ``EPS``), and padding bins are 0 on both sides, which
    add nothing either."""

    def __init__(self, columns: Sequence[NumericColumn], offsets: npt.NDArray[np.int32]) -> None:
        width = max((c.size for c in columns), default=0)
        self.expected = np.zeros((len(columns), width), dtype=np.float64)
        self.take = np.full((len(columns), width), -1, dtype=np.intp)  # -1: the 0 slot
        for i, (column, offset) in enumerate(zip(columns, offsets.tolist(), strict=True)):
            ref = column.reference
            self.expected[i, : column.bins] = ref.counts
            self.expected[i, width - 1] = ref.missing
            self.take[i, : column.bins] = offset + np.arange(column.bins)
            self.take[i, width - 1] = offset + column.bins

    def __call__(self, counts: npt.NDArray[np.int64]) -> list[float]:
        if not len(self.expected):
            return []
        found = psi_rows(self.expected, counts[self.take].astype(np.float64))
        return [float(v) for v in found.tolist()]
