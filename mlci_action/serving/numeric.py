"""The fast path for all-numeric models: a V2 request straight into a float64 array.

The general path builds a typed DataFrame, validates it with the compiled schema and hands
the model its ``to_numpy()``: about 3 ms of pandas for one row, against microseconds for the
same work on a numpy array. For a model that predicts on an array (``ServedModel.takes_array``)
whose features are all FP64/INT64 and whose schema compiled completely (no column left to
pandera, nothing frame-wide), :class:`NumericPath` decodes the request's values into one
``(rows, features)`` array, in the model's feature order, and runs the same compiled checks on
its columns.

It only ever says yes: :meth:`NumericPath.matrix` returns the array when every value is a JSON
number (or the binary tensor has the right kind), finite, whole where the column is INT64, and
passes every check; anything else (a null, a string, a bool, an infinity, a failing check, an
odd shape) returns None and the request takes the general path, which words the refusal
exactly as before. So both paths give the same predictions and the same errors: the tests
prove it on randomized good and bad requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandera.engines import pandas_engine

from mlci_action.serving.compiled import CompiledCheck, CompiledSchema
from mlci_action.serving.features import Feature
from mlci_action.serving.protocol import Array, InferRequest, Values

_NUMBERS = {int, float}
"""JSON numbers as decoded; bool is its own type (True is not taken for 1), None is a null."""


@dataclass(frozen=True)
class NumericColumn:
    position: int
    whole: bool
    """INT64: the values must be whole numbers, and are checked as int64, as the frame has them."""
    checks: tuple[CompiledCheck, ...]


@dataclass(frozen=True)
class RangeChecks:
    """Every column's range checks (in_range, greater/less than (or equal to)) as four rows of
    bounds, one value a feature, checked on the whole array at once; -inf/inf where none."""

    at_least: Array
    above: Array
    at_most: Array
    below: Array

    def passes(self, matrix: Array) -> bool:
        return bool(
            (matrix >= self.at_least).all()
            and (matrix > self.above).all()
            and (matrix <= self.at_most).all()
            and (matrix < self.below).all()
        )


@dataclass(frozen=True)
class NumericPath:
    names: tuple[str, ...]
    columns: tuple[NumericColumn, ...]
    """Each column with the checks :attr:`ranges` does not hold."""
    all_whole: bool
    """Every feature INT64: the model gets an int64 array, as ``frame.to_numpy()`` gives it."""
    ranges: RangeChecks | None = None

    def matrix(self, request: InferRequest) -> Array | None:
        """The request's features as a (rows, features) array if it is good; else None."""
        return self._checked(self._decode(request))

    def records_matrix(self, records: Sequence[Mapping[str, Any]]) -> Array | None:
        """``/predict`` records as the same array, or None (the general path decides)."""
        try:
            flat = [record[name] for record in records for name in self.names]
        except (KeyError, TypeError):
            return None
        if not set(map(type, flat)) <= _NUMBERS:
            return None
        return self._checked(np.array(flat, dtype=np.float64).reshape(-1, len(self.names)))

    def _checked(self, matrix: Array | None) -> Array | None:
        if matrix is None or not len(matrix) or not np.isfinite(matrix).all():
            return None
        if self.ranges is not None and not self.ranges.passes(matrix):
            return None
        for column in self.columns:
            values = matrix[:, column.position]
            if column.whole:
                whole = values.astype(np.int64)
                if not np.array_equal(whole, values):
                    return None
                values = whole
            for check in column.checks:
                try:
                    if not np.all(check.passes(values)):
                        return None
                except TypeError:
                    return None
        return matrix.astype(np.int64) if self.all_whole else matrix

    def _decode(self, request: InferRequest) -> Array | None:
        width = len(self.names)
        inputs = request.inputs
        first = inputs[0]
        if len(inputs) == 1 and first.name not in self.names:  # one [rows, features] input
            if len(first.shape) != 2 or first.shape[1] != width:
                return None
            any_whole = any(column.whole for column in self.columns)
            values = _floats(first.data, first.kinds, whole=any_whole)
            return None if values is None else values.reshape(first.shape)
        if len(inputs) != width or any(
            len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1)
            for tensor in inputs
        ):
            return None
        by_name = {tensor.name: tensor for tensor in inputs}
        if set(by_name) != set(self.names) or len({len(t.data) for t in inputs}) != 1:
            return None
        columns = []
        for name, column in zip(self.names, self.columns, strict=True):
            tensor = by_name[name]
            values = _floats(tensor.data, tensor.kinds, whole=column.whole)
            if values is None:
                return None
            columns.append(values)
        return np.column_stack(columns)


_EXACT = 2**53
"""Integers up to this size are exact in float64."""


def _floats(data: Values, kinds: frozenset[type] | None, *, whole: bool) -> Array | None:
    """The values as float64, or None when the general path would refuse or type them
    otherwise (a null, a bool, a string; a float tensor for an INT64 column; integers too
    large to be exact in float64, which the general path keeps as int64). ``kinds``: the
    types of a JSON list's elements, as the parser found them (one scan, not two)."""
    if isinstance(data, np.ndarray):  # the binary extension
        kind = data.dtype.kind
        if kind not in ("iu" if whole else "iuf"):
            return None
        if (
            kind in "iu"
            and len(data)
            and not -_EXACT <= int(data.min()) <= int(data.max()) <= _EXACT
        ):
            return None
        return data.astype(np.float64)
    if not (set(map(type, data)) if kinds is None else kinds) <= _NUMBERS:
        return None
    return np.array(data, dtype=np.float64)


def numeric_path(
    features: Sequence[Feature], checks: CompiledSchema | None, takes_array: bool
) -> NumericPath | None:
    """The fast path for this model, or None when it must keep the general path."""
    if not takes_array or not features:
        return None
    if any(feature.datatype not in ("FP64", "INT64") for feature in features):
        return None
    compiled = {} if checks is None else {column.name: column for column in checks.columns}
    if checks is not None and (checks.whole or checks.rest is not None):
        return None
    columns = []
    width = len(features)
    bounds = np.array([[-np.inf] * width, [-np.inf] * width, [np.inf] * width, [np.inf] * width])
    for position, feature in enumerate(features):
        whole = feature.datatype == "INT64"
        column = compiled.get(feature.name)
        if column is None:
            if checks is not None:
                return None  # the schema does not check it: leave the verdict to pandera
            columns.append(NumericColumn(position, whole, ()))
            continue
        dtype = np.dtype(np.int64 if whole else np.float64)
        sample = pd.Series(np.zeros(1, dtype=dtype))
        if not bool(np.all(column.dtype.check(pandas_engine.Engine.dtype(dtype), sample))):
            return None  # every request would fail the dtype check: the general path says so
        rest = [check for check in column.checks if not _add_bounds(bounds[:, position], check)]
        columns.append(NumericColumn(position, whole, tuple(rest)))
    names = tuple(feature.name for feature in features)
    ranges = None if np.isinf(bounds).all() else RangeChecks(*bounds)
    return NumericPath(names, tuple(columns), all(column.whole for column in columns), ranges)


def _add_bounds(column: Array, check: CompiledCheck) -> bool:
    """Fold a range check into the column's bounds (at least, above, at most, below); False
    when it is not one, or its bounds are not plain numbers exact in float64."""
    if check.bounds is None:
        return False
    low, low_included, high, high_included = check.bounds
    if not all(_plain(value) for value in (low, high) if value is not None):
        return False
    if low is not None:
        row = 0 if low_included else 1
        column[row] = max(column[row], low)
    if high is not None:
        row = 2 if high_included else 3
        column[row] = min(column[row], high)
    return True


def _plain(value: object) -> bool:
    if type(value) not in _NUMBERS:
        return False
    number = float(value)  # type: ignore[arg-type]
    return bool(np.isfinite(number)) and abs(number) <= _EXACT
