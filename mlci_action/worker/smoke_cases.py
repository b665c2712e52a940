"""The smoke test's cases: test rows and the candidate's own answers, as plain JSON.

Written by the evaluate task, inside the project's environment (where pandas and the model
live), so the client that replays them against the serving container needs neither: the
action image stays small, and the answers compared are exactly the ones evaluation scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.cache import atomic_write

Array = npt.NDArray[Any]

FORMAT = "mlci.smoke-cases/1"


def write(
    path: str | Path,
    features: pd.DataFrame,
    labels: Array,
    proba: Array | None,
    classes: Array | None,
    limit: int,
) -> Path:
    """The first ``limit`` rows (all of them if fewer) with the expected labels and
    probabilities (columns in ``classes`` order, the model's own)."""
    rows = min(limit, len(features))
    head = features.iloc[:rows]
    cases = {
        "format": FORMAT,
        "rows": rows,
        "of": len(features),
        "columns": {str(name): _values(head[name]) for name in head.columns},
        "predict": [_plain(value) for value in labels[:rows].tolist()],
        "classes": None if classes is None else [_plain(c) for c in classes.tolist()],
        "predict_proba": None if proba is None else proba[:rows].tolist(),
    }
    target = Path(path)
    atomic_write(target, json.dumps(cases, allow_nan=True))
    return target


def _values(column: pd.Series) -> list[Any]:
    kind = column.dtype.kind
    if kind == "b":
        return [bool(v) for v in column.to_numpy()]
    if kind in "iu":
        return [int(v) for v in column.to_numpy()]
    if kind == "f":
        return [float(v) for v in column.to_numpy()]  # NaN stays NaN (the server reads it)
    return [None if _missing(v) else _plain(v) for v in column.tolist()]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array in a cell is not "missing"
        return False


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars unwrapped, anything else not JSON-native as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str) or value is None:
        return value  # NaN and infinities are written as JSON's NaN/Infinity, which Python reads
    return str(value)
