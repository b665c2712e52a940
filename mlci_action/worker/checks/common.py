"""What every check family shares: building a DataCheck, showing values, small statistics."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from mlci_action.record import CheckFailure, DataCheck

EXAMPLES = 5
"""How many cases a failure shows."""
VALUE_WIDTH = 60

Severity = Literal["error", "warning"]
Kind = Literal[
    "schema", "columns", "duplicates", "categories", "constant", "leakage", "target", "drift"
]


def make_check(
    *,
    name: str,
    kind: Kind,
    dataset: str,
    passed: bool,
    detail: str,
    setting: str | None,
    severity: Severity = "error",
    column: str | None = None,
    statistic: float | None = None,
    threshold: float | None = None,
    failures: list[CheckFailure] | None = None,
) -> DataCheck:
    """A DataCheck whose detail, when it did not pass, ends with the setting that tunes it."""
    if not passed and setting:
        detail = f"{detail} (tune: {setting})"
    return DataCheck(
        name=name,
        kind=kind,
        dataset=dataset,
        passed=passed,
        severity=severity,
        detail=detail,
        column=column,
        statistic=statistic,
        threshold=threshold,
        failures=failures or [],
        setting=setting,
    )


def show(value: Any) -> str:
    """A value as a failure example shows it: text quoted (so 'Adelie ' shows its space),
    numbers plain, missing as (missing), long text shortened."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "(missing)"
    if isinstance(value, pd.Timestamp):
        return str(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def show_row(values: Any) -> str:
    """A whole row, shortened: ``(5.1, 3.5, 'setosa')``."""
    text = "(" + ", ".join(show(value) for value in values) + ")"
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 2] + "…)"


def is_numeric(values: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
    )


def ks(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic, as ``scipy.stats.ks_2samp`` computes it.

    Only the statistic is needed, and importing scipy.stats costs the worker a second or two.
    """
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, both, side="right") / len(a)
    cdf_b = np.searchsorted(b, both, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def tvd(p: pd.Series, q: pd.Series) -> float:
    """Total variation distance of two share distributions over the union of their labels."""
    left, right = p.align(q, fill_value=0.0)
    return float(0.5 * np.abs(left - right).sum())


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else many or word + 's'}"
