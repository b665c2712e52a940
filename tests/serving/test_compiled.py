"""The compiled schema checks give pandera's verdict and pandera's failing (column, check) pairs.

Frames are drawn at random (seeded numpy) as the request path builds them: typed columns from
the V2 datatypes, with nulls, out-of-range values, unknown categories and wrong lengths mixed
in; for each, the compiled verdict and failure set must equal pandera's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlci_action.serving.compiled import compile_schema

SCHEMA = pa.DataFrameSchema(
    {
        "a": pa.Column(float, pa.Check.in_range(-10, 10)),
        "a2": pa.Column(float, pa.Check.in_range(0, 1, include_min=False, include_max=False)),
        "b": pa.Column(int, [pa.Check.ge(0), pa.Check.lt(100)]),
        "b2": pa.Column(int, [pa.Check.gt(-5), pa.Check.le(5), pa.Check.ne(3)], nullable=True),
        "c": pa.Column(str, pa.Check.isin(["red", "green", "blue"])),
        "d": pa.Column(str, [pa.Check.str_length(1, 3), pa.Check.notin(["no"])], nullable=True),
        "e": pa.Column(bool),
        "f": pa.Column(float, nullable=True),
        "g": pa.Column(int, pa.Check.eq(1)),
    }
)
WORDS = ["red", "green", "blue", "Red", "", "no", "purple", "ab", "abcd"]


def _column(rng: np.random.Generator, rows: int, kind: str, low: float, high: float) -> Any:
    """A column as serving.features types it: numbers to float64 (int64 when no null is there);
    about one value in six is null, and values stray outside [low, high]."""
    null = rng.random(rows) < 1 / 6
    if kind == "word":
        return [None if n else str(rng.choice(WORDS)) for n in null]
    if kind == "bool":
        return [None if n else bool(v) for n, v in zip(null, rng.integers(0, 2, rows), strict=True)]
    span = high - low
    values = rng.uniform(low - span / 4, high + span / 4, rows)
    edges = rng.random(rows) < 0.2
    values[edges] = rng.choice([low, high], int(edges.sum()))
    if kind == "int":
        values = np.round(values)
    values[null] = np.nan
    return values.astype(np.int64) if kind == "int" and not null.any() else values


def random_frame(rng: np.random.Generator) -> pd.DataFrame:
    rows = int(rng.integers(1, 7))
    return pd.DataFrame(
        {
            "a": _column(rng, rows, "float", -10, 10),
            "a2": _column(rng, rows, "float", 0, 1),
            "b": _column(rng, rows, "int", 0, 100),
            "b2": _column(rng, rows, "int", -5, 5),
            "c": _column(rng, rows, "word", 0, 0),
            "d": _column(rng, rows, "word", 0, 0),
            "e": _column(rng, rows, "bool", 0, 0),
            "f": _column(rng, rows, "float", -1e9, 1e9),
            "g": _column(rng, rows, "int", 0, 2),
        }
    )


def pandera_failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> set[tuple[Any, str]]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return set(zip(cases["column"], cases["check"], strict=True))
    return set()


COMPILED = compile_schema(SCHEMA)


def test_every_column_of_the_schema_compiles() -> None:
    assert [c.name for c in COMPILED.columns] == list(SCHEMA.columns)
    assert COMPILED.rest is None and not COMPILED.whole


@pytest.mark.parametrize("seed", range(4))
def test_compiled_verdict_and_failures_equal_panderas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    verdicts = []
    for _ in range(50):
        frame = random_frame(rng)
        expected = pandera_failures(SCHEMA, frame)
        assert COMPILED.failures(frame) == expected, frame
        if expected:
            with pytest.raises(pa.errors.SchemaErrors):
                COMPILED.validate(frame)
        else:
            assert COMPILED.validate(frame) is frame
        verdicts.append(bool(expected))
    assert any(verdicts)


def test_good_and_bad_frames_both_occur() -> None:
    """The generator is not vacuous: seeded draws give passing and failing frames."""
    rng = np.random.default_rng(0)
    good = pd.DataFrame(
        {
            "a": rng.uniform(-10, 10, 50),
            "a2": rng.uniform(0.01, 0.99, 50),
            "b": rng.integers(0, 100, 50),
            "b2": rng.integers(-4, 3, 50),
            "c": rng.choice(["red", "blue"], 50).tolist(),
            "d": rng.choice(["ab", "x"], 50).tolist(),
            "e": rng.integers(0, 2, 50).astype(bool),
            "f": rng.normal(size=50),
            "g": np.ones(50, dtype=np.int64),
        }
    )
    assert COMPILED.failures(good) == set() == pandera_failures(SCHEMA, good)
    bad = good.assign(a=good["a"] * 3, c=["Red"] * 50)
    assert COMPILED.failures(bad) == {
        ("a", "in_range(-10, 10)"),
        ("c", "isin(['red', 'green', 'blue'])"),
    }
    assert COMPILED.failures(bad) == pandera_failures(SCHEMA, bad)


def test_what_does_not_compile_is_left_to_pandera() -> None:
    schema = pa.DataFrameSchema(
        {
            "x": pa.Column(float, pa.Check(lambda s: s > 0, name="positive")),
            "y": pa.Column(int, pa.Check.ge(0)),
            "z": pa.Column(float, coerce=True),
        }
    )
    compiled = compile_schema(schema)
    assert [c.name for c in compiled.columns] == ["y"]
    assert compiled.rest is not None and sorted(compiled.rest.columns) == ["x", "z"]
    frame = pd.DataFrame({"x": [1.0, -1.0], "y": [1, -2], "z": [1, 2]})
    assert (
        compiled.failures(frame)
        == pandera_failures(schema, frame)
        == {
            ("x", "positive"),
            ("y", "greater_than_or_equal_to(0)"),
        }
    )
    coerced = compiled.validate(frame.assign(x=[1.0, 2.0], y=[0, 1]))
    assert coerced["z"].dtype == np.float64  # pandera's coerced frame comes back
    wide = compile_schema(
        pa.DataFrameSchema({"y": pa.Column(int)}, checks=pa.Check(lambda d: len(d) > 1))
    )
    assert wide.whole
    assert wide.failures(pd.DataFrame({"y": [1]})) == pandera_failures(
        wide.schema, pd.DataFrame({"y": [1]})
    )
