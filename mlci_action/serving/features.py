"""The model's feature columns: their V2 datatypes, typing request values, the pandera check.

A request's values are typed column by column against the datatype the model metadata
declares (a string in an FP64 column is refused here, naming the column and row), then the
frame is validated with the training schema, less the target: the same checks as in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlci_action.serving.compiled import CompiledSchema
from mlci_action.serving.protocol import RequestError, Values

_MAX_LISTED = 5


@dataclass(frozen=True)
class Feature:
    name: str
    datatype: str
    """FP64, INT64, BOOL or BYTES."""


def datatype_for(dtype: object) -> str:
    """The V2 datatype for a pandera/pandas dtype; FP64 when the schema declares none."""
    if dtype is None:
        return "FP64"
    text = str(dtype).lower()
    if text.startswith(("float", "double")):
        return "FP64"
    if text.startswith(("int", "uint")):
        return "INT64"
    if text.startswith(("bool", "boolean")):
        return "BOOL"
    return "BYTES"


def features_for(names: Sequence[str], schema: pa.DataFrameSchema | None) -> tuple[Feature, ...]:
    columns = schema.columns if schema is not None else {}
    return tuple(
        Feature(name, datatype_for(columns[name].dtype if name in columns else None))
        for name in names
    )


def feature_schema(schema: pa.DataFrameSchema, features: Sequence[str]) -> pa.DataFrameSchema:
    """The training schema restricted to the model's features (the target, ids, ... dropped)."""
    extra = [name for name in schema.columns if name not in features]
    return schema.remove_columns(extra) if extra else schema


def frame_from_columns(columns: Mapping[str, Values], features: Sequence[Feature]) -> pd.DataFrame:
    """A typed frame with one column per feature, in the model's order.

    An empty batch is a 400: KServe's scikit-learn server hands it to the model, which
    refuses 0 rows; answering 200 with empty outputs would hide a client bug.
    """
    missing = [feature.name for feature in features if feature.name not in columns]
    if missing:
        raise RequestError(
            422,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}",
            columns=missing,
        )
    rows = len(next(iter(columns.values()))) if columns else 0
    if rows == 0:
        raise RequestError(400, "the batch is empty: send at least one row")
    return pd.DataFrame(
        {feature.name: _typed(feature, columns[feature.name]) for feature in features}
    )


def frame_from_records(
    records: Sequence[Mapping[str, Any]], features: Sequence[Feature]
) -> pd.DataFrame:
    """Records to columns; keys that are not features (the target, an id) are ignored."""
    if not records:
        raise RequestError(400, "the batch is empty: send at least one record")
    missing: dict[str, int] = {}
    for row, record in enumerate(records):
        for feature in features:
            if feature.name not in record:
                missing.setdefault(feature.name, row)
    if missing:
        listed = ", ".join(f"{name!r} (first in record {row})" for name, row in missing.items())
        raise RequestError(422, f"missing column {listed}", columns=list(missing))
    columns = {f.name: [record[f.name] for record in records] for f in features}
    return frame_from_columns(columns, features)


def validate(frame: pd.DataFrame, schema: CompiledSchema | None) -> pd.DataFrame:
    """The frame as the schema leaves it (it may coerce), or a 422 naming each failing check.

    The compiled checks pass a good frame in microseconds; a failing one is validated by
    pandera, whose failure cases word the refusal."""
    if schema is None:
        return frame
    try:
        return schema.validate(frame)
    except pa.errors.SchemaErrors as exc:
        raise _schema_failure(exc.failure_cases) from None


def _typed(feature: Feature, values: Values) -> Any:
    if isinstance(values, np.ndarray):
        return _typed_array(feature, values)
    kinds = {
        "FP64": (int, float),
        "INT64": (int, float),
        "BOOL": (bool,),
        "BYTES": (str,),
    }[feature.datatype]
    for row, value in enumerate(values):
        if value is None or (type(value) in kinds):
            continue
        raise _wrong_type(feature, row, value)
    if feature.datatype in ("FP64", "INT64"):
        array = np.array(values, dtype=np.float64)  # None becomes NaN: the schema decides
        infinite = np.isinf(array)
        if infinite.any():  # no scikit-learn model takes them: refuse here, not with a 500
            row = int(np.argmax(infinite))
            raise _wrong_type(feature, row, values[row])
    if feature.datatype == "FP64":
        return array
    if feature.datatype == "INT64":
        whole = np.isnan(array) | (array == np.round(array))
        if not whole.all():
            row = int(np.argmin(whole))
            raise _wrong_type(feature, row, values[row])
        return array if np.isnan(array).any() else array.astype(np.int64)
    return list(values)  # pandas infers str / bool (object if there are nulls)


def _typed_array(feature: Feature, array: Any) -> Any:
    """Values decoded from the binary extension are already typed; check the kind."""
    kind = array.dtype.kind
    if feature.datatype == "FP64" and kind in "iuf":
        return array.astype(np.float64)
    if feature.datatype == "INT64" and kind in "iu":
        return array.astype(np.int64)
    if feature.datatype == "BOOL" and kind == "b":
        return array.astype(bool)
    raise RequestError(
        422,
        f"column {feature.name!r}: expected {feature.datatype} values, got a {array.dtype} tensor",
        columns=[feature.name],
    )


def _wrong_type(feature: Feature, row: int, value: object) -> RequestError:
    expected = {
        "FP64": "a finite number",
        "INT64": "a whole number",
        "BOOL": "true or false",
        "BYTES": "a string",
    }[feature.datatype]
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return RequestError(
        422,
        f"column {feature.name!r}: row {row} is {shown} ({type(value).__name__}); "
        f"expected {expected} ({feature.datatype})",
        columns=[feature.name],
    )


def _schema_failure(cases: pd.DataFrame) -> RequestError:
    """One line per (column, check): how many rows failed and the first failing value."""
    problems, columns = [], []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        name = None if pd.isna(column) else str(column)
        if name is not None and name not in columns:
            columns.append(name)
        first = group.iloc[0]
        where = "" if pd.isna(first["index"]) else f" at row {int(first['index'])}"
        value = first["failure_case"]
        value = value.item() if isinstance(value, np.generic) else value
        where = f", e.g. {value!r}{where}" if not pd.isna(value) or where else ""
        subject = f"column {name!r}" if name is not None else "the request"
        problems.append(f"{subject} fails {check} ({len(group)} row(s){where})")
    listed = "; ".join(problems[:_MAX_LISTED])
    if len(problems) > _MAX_LISTED:
        listed += f"; and {len(problems) - _MAX_LISTED} more"
    return RequestError(422, f"schema check failed: {listed}", columns=columns)
