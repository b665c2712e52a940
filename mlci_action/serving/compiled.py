"""The training schema compiled into vectorized numpy checks for the request path.

pandera validates a one-row frame in about 11 ms, most of it bookkeeping; the same checks as
numpy comparisons take microseconds. :func:`compile_schema` reads a pandera
``DataFrameSchema`` once, at load time, and turns each column it understands into plain
checks: the dtype (pandera's own dtype test), ``nullable``, and the built-in checks
``in_range``, ``greater_than(_or_equal_to)``, ``less_than(_or_equal_to)``, ``equal_to``,
``not_equal_to``, ``isin``, ``notin`` and ``str_length``, each applied to the non-null values
as pandera does (``ignore_na``). A column with anything else (a custom check, ``coerce``,
``unique``, a regex name, parsers, a warning-only check) is left to pandera, and so is the
whole schema when it has frame-wide parts (checks, an index, ``unique``, ``coerce``, ...).

Correctness first: when the compiled checks find a failure, the caller validates the frame
with pandera, whose failure cases make the message, so a refused request reads exactly as
before. The compiled checks only decide that a frame passes; ``failures`` names the
(column, check) pairs that fail, in pandera's own wording, and the tests prove both equal to
pandera's on randomized good and bad frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

Mask = Callable[[Any], Any]
"""Non-null values (a numpy array) -> a boolean array, True where the value passes."""


Bounds = tuple[float | None, bool, float | None, bool]
"""A range check as (low, low included, high, high included); None for an open side."""


@dataclass(frozen=True)
class CompiledCheck:
    name: str
    """pandera's name for it in failure cases, e.g. ``in_range(-10, 10)``."""
    passes: Mask
    bounds: Bounds | None = None
    """The same check as bounds, when it is a range check (for checks on whole arrays)."""


@dataclass(frozen=True)
class CompiledColumn:
    name: str
    dtype: Any
    """pandera's DataType of the column."""
    nullable: bool
    checks: tuple[CompiledCheck, ...]

    def failures(self, series: pd.Series) -> list[str]:
        """The names of the checks this column fails, pandera's order aside."""
        failed = []
        if not bool(np.all(self.dtype.check(pandas_engine.Engine.dtype(series.dtype), series))):
            failed.append(f"dtype('{self.dtype}')")
        missing = series.isna().to_numpy()
        if not self.nullable and missing.any():
            failed.append("not_nullable")
        values = series.to_numpy()[~missing] if missing.any() else series.to_numpy()
        for check in self.checks:
            try:
                passed = not len(values) or bool(np.all(check.passes(values)))
            except TypeError:  # values the check cannot compare: pandera decides
                passed = False
            if not passed:
                failed.append(check.name)
        return failed


@dataclass(frozen=True)
class CompiledSchema:
    schema: pa.DataFrameSchema
    columns: tuple[CompiledColumn, ...]
    rest: pa.DataFrameSchema | None
    """The columns left to pandera (None when every column compiled)."""
    whole: bool = False
    """True when the schema has frame-wide parts: pandera validates everything."""

    def failures(self, frame: pd.DataFrame) -> set[tuple[str | None, str]]:
        """The (column, check) pairs that fail, as pandera names them; empty when it passes."""
        if self.whole:
            return _pandera_failures(self.schema, frame)
        found: set[tuple[str | None, str]] = set()
        for column in self.columns:
            if column.name not in frame.columns:
                found.add((None, "column_in_dataframe"))
                continue
            found.update((column.name, check) for check in column.failures(frame[column.name]))
        if self.rest is not None:
            found |= _pandera_failures(self.rest, frame[list(self.rest.columns)])
        return found

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame if it passes; else pandera's verdict and errors (SchemaErrors)."""
        if self.whole:
            return self.schema.validate(frame, lazy=True)
        for column in self.columns:
            if column.name not in frame.columns or column.failures(frame[column.name]):
                return self.schema.validate(frame, lazy=True)  # pandera words the refusal
        if self.rest is not None:
            checked = self.rest.validate(frame[list(self.rest.columns)], lazy=True)
            if any(checked[name] is not frame[name] for name in self.rest.columns):
                return self.schema.validate(frame, lazy=True)  # coerced: pandera's frame
        return frame


def compile_schema(schema: pa.DataFrameSchema) -> CompiledSchema:
    if _frame_wide(schema):
        return CompiledSchema(schema, (), None, whole=True)
    compiled, left = [], []
    for name, column in schema.columns.items():
        one = _compile_column(str(name), column)
        if one is None:
            left.append(name)
        else:
            compiled.append(one)
    rest = schema.remove_columns([n for n in schema.columns if n not in left]) if left else None
    return CompiledSchema(schema, tuple(compiled), rest)


def _frame_wide(schema: pa.DataFrameSchema) -> bool:
    return bool(
        schema.checks
        or schema.index is not None
        or schema.coerce
        or schema.unique
        or getattr(schema, "parsers", None)
        or getattr(schema, "add_missing_columns", False)
        or schema.strict not in (False, None)
    )


def _compile_column(name: str, column: pa.Column) -> CompiledColumn | None:
    if (
        column.dtype is None
        or column.coerce
        or column.unique
        or column.regex
        or not column.required
        or getattr(column, "parsers", None)
        or getattr(column, "drop_invalid_rows", False)
    ):
        return None
    checks = []
    for check in column.checks:
        compiled = _compile_check(check)
        if compiled is None:
            return None
        checks.append(compiled)
    return CompiledColumn(name, column.dtype, bool(column.nullable), tuple(checks))


def _compile_check(check: pa.Check) -> CompiledCheck | None:
    if (
        not check.ignore_na
        or check.raise_warning
        or check.groupby is not None
        or check.name not in _BUILDERS
    ):
        return None
    stats = check.statistics or {}
    passes = _BUILDERS[check.name](stats)
    if passes is None:
        return None
    return CompiledCheck(str(check.error or check), passes, _bounds(check.name, stats))


def _bounds(name: str, stats: dict[str, Any]) -> Bounds | None:
    if name == "in_range":
        low, high = stats["min_value"], stats["max_value"]
        return (low, stats.get("include_min", True), high, stats.get("include_max", True))
    return {
        "greater_than_or_equal_to": lambda: (stats["min_value"], True, None, False),
        "greater_than": lambda: (stats["min_value"], False, None, False),
        "less_than_or_equal_to": lambda: (None, False, stats["max_value"], True),
        "less_than": lambda: (None, False, stats["max_value"], False),
    }.get(name, lambda: None)()


def _in_range(stats: dict[str, Any]) -> Mask:
    low, high = stats["min_value"], stats["max_value"]
    include_low, include_high = stats.get("include_min", True), stats.get("include_max", True)

    def passes(x: Any) -> Any:
        above = x >= low if include_low else x > low
        below = x <= high if include_high else x < high
        return above & below

    return passes


def _isin(stats: dict[str, Any]) -> Mask:
    allowed = list(stats["allowed_values"])
    return lambda x: pd.Series(x).isin(allowed).to_numpy()


def _notin(stats: dict[str, Any]) -> Mask:
    forbidden = list(stats["forbidden_values"])
    return lambda x: ~pd.Series(x).isin(forbidden).to_numpy()


def _str_length(stats: dict[str, Any]) -> Mask:
    exact = stats.get("exact_value")
    low, high = (
        (exact, exact) if exact is not None else (stats.get("min_value"), stats.get("max_value"))
    )

    def passes(x: Any) -> Any:
        lengths = pd.Series(x).str.len().to_numpy()
        ok = np.ones(len(lengths), dtype=bool)
        if low is not None:
            ok &= lengths >= low
        if high is not None:
            ok &= lengths <= high
        return ok

    return passes


_BUILDERS: dict[str, Callable[[dict[str, Any]], Mask | None]] = {
    "in_range": _in_range,
    "greater_than_or_equal_to": lambda s: lambda x: x >= s["min_value"],
    "greater_than": lambda s: lambda x: x > s["min_value"],
    "less_than_or_equal_to": lambda s: lambda x: x <= s["max_value"],
    "less_than": lambda s: lambda x: x < s["max_value"],
    "equal_to": lambda s: lambda x: x == s["value"],
    "not_equal_to": lambda s: lambda x: x != s["value"],
    "isin": _isin,
    "notin": _notin,
    "str_length": _str_length,
}


def _pandera_failures(
    schema: pa.DataFrameSchema, frame: pd.DataFrame
) -> set[tuple[str | None, str]]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return {
            (None if pd.isna(column) else str(column), str(check))
            for column, check in zip(cases["column"], cases["check"], strict=True)
        }
    return set()
