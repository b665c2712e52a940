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
    return merged_slices(slice_part(frame, specs), specs)


@dataclass(frozen=True)
class SlicePart:
    """One partition's share of the slices (a few bytes a row, no feature values but the
    distinct values of a ``column`` spec): each comparison's mask, and each value spec's
    distinct values (in order of first appearance) with each row's index among them."""

    masks: dict[str, Mask]
    keys: dict[str, tuple[list[str], npt.NDArray[np.int32]]]


def slice_part(frame: pd.DataFrame, specs: list[str]) -> SlicePart:
    """The slices' share of one partition (or of the one test file)."""
    masks: dict[str, Mask] = {}
    keys: dict[str, tuple[list[str], npt.NDArray[np.int32]]] = {}
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
        if spec.op is None:
            named = column.astype(object).where(column.notna(), "(missing)").astype(str)
            codes, uniques = pd.factorize(named)
            keys[text] = ([str(u) for u in uniques], codes.astype(np.int32))
        else:
            masks[text] = _compare(spec, column).mask
    return SlicePart(masks, keys)


def joined(parts: list[SlicePart]) -> SlicePart:
    """The parts' rows as one part, in the parts' order (a value spec's distinct values in
    order of first appearance over all of them)."""
    if len(parts) == 1:
        return parts[0]
    masks = {text: np.concatenate([part.masks[text] for part in parts]) for text in parts[0].masks}
    keys: dict[str, tuple[list[str], npt.NDArray[np.int32]]] = {}
    for text in parts[0].keys:
        index: dict[str, int] = {}
        codes = []
        for part in parts:
            uniques, local = part.keys[text]
            mapping = np.asarray([index.setdefault(value, len(index)) for value in uniques])
            codes.append(mapping[local].astype(np.int32) if len(local) else local)
        keys[text] = (list(index), np.concatenate(codes))
    return SlicePart(masks, keys)


def merged_slices(part: SlicePart, specs: list[str]) -> list[Slice]:
    """Every slice of every spec, in the order of ``specs``: a value spec's
    :data:`TOP_VALUES` most frequent values (ties: the first seen first), the rest as one."""
    found: list[Slice] = []
    for text in specs:
        spec = parse_slice(text)
        if spec.op is not None:
            found.append(Slice(text, text, part.masks[text]))
            continue
        names, codes = part.keys[text]
        counts = np.bincount(codes, minlength=len(names))
        top = np.argsort(-counts, kind="stable")[:TOP_VALUES]
        found += [Slice(f"{spec.column} = {names[k]}", text, codes == k) for k in top.tolist()]
        rest = ~np.isin(codes, top)
        if rest.any():
            found.append(Slice(f"{spec.column} = {OTHER}", text, rest))
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
