"""The rows of each slice of the test set (evaluation.slices), from the parsed specs.

Nothing is evaluated as code: a spec is a column and at most one comparison with a literal
(:mod:`mlci_action.slices`). A column that the test file lacks, or a comparison its values
cannot make, is unusable input naming the slice as written in mlci.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.errors import InputError
from mlci_action.slices import OPERATORS, OTHER, TOP_VALUES, SliceSpec, parse_slice

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Slice:
    name: str
    """E.g. ``age >= 65`` or ``region = north`` (a value from the data: escape it)."""
    spec: str
    mask: Mask


def slices(frame: pd.DataFrame, specs: list[str]) -> list[Slice]:
    """Every slice of every spec, in the order of ``specs``."""
    found: list[Slice] = []
    for text in specs:
        try:
            spec = parse_slice(text)
        except ValueError as exc:
            raise InputError(f"evaluation.slices: {exc}") from None
        if spec.column not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:20]))
            raise InputError(
                f"evaluation.slices: slice {text!r} names column {spec.column!r}, "
                "which the test file does not have",
                hint=f"its columns: {shown}",
            )
        column = frame[spec.column]
        found += _values(spec, column) if spec.op is None else [_compare(spec, column)]
    return found


def _values(spec: SliceSpec, column: pd.Series[Any]) -> list[Slice]:
    keys = column.astype(object).where(column.notna(), "(missing)").astype(str)
    counts = keys.value_counts(sort=True)
    top = list(counts.index[:TOP_VALUES])
    found = [
        Slice(f"{spec.column} = {value}", spec.text, (keys == value).to_numpy()) for value in top
    ]
    rest = ~keys.isin(top).to_numpy()
    if rest.any():
        found.append(Slice(f"{spec.column} = {OTHER}", spec.text, rest))
    return found


def _compare(spec: SliceSpec, column: pd.Series[Any]) -> Slice:
    assert spec.op is not None
    values = column
    if isinstance(spec.value, (int, float)) and not isinstance(spec.value, bool):
        values = pd.to_numeric(column, errors="coerce")
        if values.isna().all() and column.notna().any():
            raise InputError(
                f"evaluation.slices: slice {spec.text!r} compares column {spec.column!r} "
                "with a number, but it holds no numbers",
                hint="compare it with a quoted string, e.g. region == 'north'",
            )
    try:
        mask = OPERATORS[spec.op](values, spec.value)
    except TypeError as exc:
        raise InputError(
            f"evaluation.slices: slice {spec.text!r} cannot compare column "
            f"{spec.column!r} with {spec.value!r}: {exc}"
        ) from None
    selected = np.asarray(pd.Series(mask).fillna(False), dtype=bool) & column.notna().to_numpy()
    return Slice(spec.text, spec.text, selected)
