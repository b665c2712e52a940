"""The numeric fast path answers exactly as the general path: the same predictions, the same
refusals (status and message, row and column named), on randomized good and bad requests."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from mlci_action.serving.metrics import ServingMetrics
from mlci_action.serving.model import ServedModel, ServingConfig, load
from mlci_action.serving.server import Incoming, ModelSlot, ServerState, answer, resolve
from mlci_action.worker.modelio import save_model

NAMES = ["a", "b", "n", "k"]
SCHEMA = pa.DataFrameSchema(
    {
        "a": pa.Column(float, pa.Check.in_range(-5, 5)),
        "b": pa.Column(float, [pa.Check.gt(-3), pa.Check.le(3)], nullable=True),
        "n": pa.Column(int, [pa.Check.ge(0), pa.Check.lt(10), pa.Check.ne(7)]),
        "k": pa.Column(int, pa.Check.isin([1, 2, 3])),
        "y": pa.Column(int),
    }
)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServedModel, ServedModel]:
    """The served model with the fast path, and the same model on the general path only."""
    root = tmp_path_factory.mktemp("numeric")
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            "a": rng.uniform(-5, 5, 300),
            "b": rng.uniform(-2.9, 3, 300),
            "n": rng.integers(0, 7, 300),
            "k": rng.integers(1, 4, 300),
        }
    )
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    model.fit(train, (train["a"] + train["n"] - 3 * train["k"] > 0).astype(int))
    save_model(model, root / "model.skops")
    (root / "schema.yaml").write_text(str(SCHEMA.to_yaml()))
    config = ServingConfig(
        model_path=root / "model.skops",
        name="m",
        schema={"kind": "yaml", "path": "schema.yaml"},
        project_dir=root,
        target="y",
    )
    fast = load(config)
    assert fast.numeric is not None and fast.numeric.ranges is not None and fast.trees is not None
    return fast, dataclasses.replace(fast, numeric=None, trees=None)


def _ask(model: ServedModel, path: str, body: bytes, header: str | None = None) -> tuple[int, Any]:
    slot = ModelSlot("m")
    slot.set(model)
    route, _ = resolve(path, "m")
    assert route is not None
    reply = answer(ServerState(slot, ServingMetrics()), route, Incoming(body, header))
    return reply.status, json.loads(reply.body)


def _value(rng: np.random.Generator, column: str) -> Any:
    """Mostly a good value; sometimes one the schema or the types refuse."""
    roll = rng.random()
    if roll < 0.03:
        return None
    if roll < 0.05:
        return bool(rng.integers(0, 2))
    if roll < 0.06:
        return "1.5"
    if roll < 0.07:
        return float("inf")
    if roll < 0.08:
        return float("nan")
    if column in ("n", "k"):
        good = int(rng.integers(0, 7)) if column == "n" else int(rng.integers(1, 4))
        odd = rng.choice([good + 0.5, 7, 10, -1, 0, 4, float(good), 2**60])
        return odd.item() if roll < 0.14 else good
    low, high = (-5, 5) if column == "a" else (-3, 3)
    value = float(rng.uniform(low, high))
    return (
        rng.choice([low, high, low - 0.1, high + 1e-9, int(value)]).item() if roll < 0.14 else value
    )


def _request(rng: np.random.Generator) -> tuple[str, bytes, str | None]:
    rows = int(rng.choice([1, 1, 2, 5, 40]))
    table = [[_value(rng, column) for column in NAMES] for _ in range(rows)]
    shape = rng.random()
    names = list(NAMES)
    if shape < 0.05:
        names[int(rng.integers(0, 4))] = "z"  # an unknown input / a missing column
    if shape < 0.1:
        records = [dict(zip(names, row, strict=True)) for row in table]
        return "/predict", json.dumps({"records": records}).encode(), None
    if shape < 0.45:  # one input per feature, [n] or [n, 1]
        inputs = [
            {
                "name": name,
                "shape": [rows] if rng.random() < 0.5 else [rows, 1],
                "datatype": "FP64" if name in ("a", "b") else "INT64",
                "data": [row[i] for row in table],
            }
            for i, name in enumerate(names)
        ]
        if rng.random() < 0.1:
            inputs[0]["data"] = [*inputs[0]["data"][:-1], 0.0, 0.0]  # rows differ
            inputs[0]["shape"] = [rows + 1]
    elif shape < 0.55:  # binary tensors, as tritonclient sends
        return _binary(rng, rows)
    else:
        nested = rng.random() < 0.3
        data: list[Any] = table if nested else [v for row in table for v in row]
        width = 4 if rng.random() < 0.95 else 3
        if width == 3:
            data = [v for row in table for v in row[:3]]
        inputs = [{"name": "input-0", "shape": [rows, width], "datatype": "FP64", "data": data}]
    return "/v2/models/m/infer", json.dumps({"inputs": inputs}).encode(), None


def _binary(rng: np.random.Generator, rows: int) -> tuple[str, bytes, str]:
    a = rng.uniform(-6, 6, rows)
    b = rng.uniform(-3, 3, rows)
    n = rng.integers(0, 8, rows)
    k = rng.integers(1, 4, rows).astype(np.float64 if rng.random() < 0.2 else np.int32)
    inputs, blobs = [], []
    for name, values in zip(NAMES, (a, b, n, k), strict=True):
        kind = {"f": "FP64", "i": "INT64"}[values.dtype.kind]
        kind = "INT32" if values.dtype == np.int32 else kind
        blob = values.astype(values.dtype.newbyteorder("<")).tobytes()
        inputs.append(
            {
                "name": name,
                "shape": [rows],
                "datatype": kind,
                "parameters": {"binary_data_size": len(blob)},
            }
        )
        blobs.append(blob)
    header = json.dumps({"inputs": inputs}).encode()
    return "/v2/models/m/infer", header + b"".join(blobs), str(len(header))


def test_the_fast_path_answers_as_the_general_path(
    models: tuple[ServedModel, ServedModel],
) -> None:
    fast, general = models
    rng = np.random.default_rng(7)
    taken, statuses = 0, set()
    for _ in range(400):
        path, body, header = _request(rng)
        got = _ask(fast, path, body, header)
        assert got == _ask(general, path, body, header), body[:300]
        statuses.add(got[0])
        taken += got[0] == 200
    assert {200, 422} <= statuses  # both good and refused requests were drawn
    assert taken > 100


def test_the_fast_path_takes_good_requests_and_leaves_bad_ones(
    models: tuple[ServedModel, ServedModel],
) -> None:
    fast, _ = models
    from mlci_action.serving.protocol import parse_infer_request

    def matrix(rows: list[list[Any]]) -> Any:
        body = {
            "inputs": [{"name": "x", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]
        }
        assert fast.numeric is not None
        return fast.numeric.matrix(parse_infer_request(json.dumps(body).encode()))

    good = matrix([[0.5, -1.0, 3, 2], [5, 3, 0, 1]])
    np.testing.assert_array_equal(good, [[0.5, -1.0, 3, 2], [5, 3, 0, 1]])
    assert good.dtype == np.float64
    for bad in ([5.01, 0, 0, 1], [0, -3, 0, 1], [0, 0, 7, 1], [0, 0, 1.5, 1], [0, 0, 0, 4]):
        assert matrix([bad]) is None, bad
    for odd in (None, True, "1"):
        assert matrix([[0, odd, 0, 1]]) is None


def test_a_refusal_names_row_and_column_and_stays_json(
    models: tuple[ServedModel, ServedModel],
) -> None:
    fast, _ = models
    body = {
        "inputs": [
            {"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [[0, 0, 0, 1], [0, 0, 0, 9]]}
        ]
    }
    status, reply = _ask(fast, "/v2/models/m/infer", json.dumps(body).encode())
    assert status == 422
    assert "column 'k'" in reply["error"] and "row 1" in reply["error"]
    hostile = '</details>`-->"]; click x %%{init}%%'
    body = {"inputs": [{"name": hostile, "shape": [1], "datatype": "FP64", "data": [1.0]}]}
    raw = _ask(fast, "/v2/models/m/infer", json.dumps(body).encode())
    assert raw[0] == 422 and repr(hostile) in raw[1]["error"]  # quoted, inside a JSON string
