"""The prediction server over real HTTP: V2 endpoints, /predict, refusals, metrics, logs."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as v2

from tests.serving.conftest import COLORS, Served, columnar, request

CLF_TYPES = {"a": "FP64", "b": "INT64", "color": "BYTES"}


def infer(served: Served, body: Any) -> tuple[int, Any]:
    return request(served, "POST", f"/v2/models/{served.name}/infer", body)


def outputs(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {output["name"]: output for output in answer["outputs"]}


def test_health_and_server_metadata(clf: Served) -> None:
    assert request(clf, "GET", "/v2/health/live") == (200, {"live": True})
    assert request(clf, "GET", "/v2/health/ready") == (200, {"ready": True})
    assert request(clf, "GET", "/v2/models/clf/ready") == (200, {"ready": True})
    status, meta = request(clf, "GET", "/v2")
    assert status == 200 and meta["name"] == "mlci"


def test_model_metadata_declares_typed_inputs_and_outputs(clf: Served, reg: Served) -> None:
    status, meta = request(clf, "GET", "/v2/models/clf")
    assert status == 200
    assert meta["name"] == "clf" and meta["platform"] == "sklearn"
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == list(CLF_TYPES.items())
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]},
    ]
    _, meta = request(reg, "GET", "/v2/models/reg")
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [("x1", "FP64"), ("x2", "FP64")]
    assert [o["name"] for o in meta["outputs"]] == ["predict"]


def test_infer_columnar_gives_the_models_answers(clf: Served) -> None:
    features = clf.features
    status, answer = infer(clf, {"id": "req-7", "inputs": columnar(features, CLF_TYPES)})
    assert status == 200, answer
    assert answer["model_name"] == "clf" and answer["id"] == "req-7"
    got = outputs(answer)
    assert got["predict"]["shape"] == [len(features)]
    assert got["predict"]["data"] == clf.model.predict(features).tolist()
    proba = got["predict_proba"]
    assert proba["shape"] == [len(features), 3] and proba["datatype"] == "FP64"
    expected = clf.model.predict_proba(features)
    assert np.array_equal(np.reshape(proba["data"], proba["shape"]), expected)


def test_infer_2d_input_gives_the_same_answers(clf: Served) -> None:
    features = clf.features
    tensor = {
        "name": "input-0",
        "shape": [len(features), 3],
        "datatype": "BYTES",
        "data": features[["a", "b", "color"]].to_numpy().tolist(),  # nested rows
    }
    status, answer = infer(clf, {"inputs": [tensor]})
    assert status == 200, answer
    assert outputs(answer)["predict"]["data"] == clf.model.predict(features).tolist()


def test_requested_outputs_only(clf: Served) -> None:
    body = {"inputs": columnar(clf.features.head(3), CLF_TYPES), "outputs": [{"name": "predict"}]}
    status, answer = infer(clf, body)
    assert status == 200 and list(outputs(answer)) == ["predict"]


def test_tritonclient_binary_tensors(clf: Served) -> None:
    """tritonclient's defaults (binary inputs, binary outputs asked for) work too."""
    features = clf.features
    client = v2.InferenceServerClient(url=clf.address)
    try:
        inputs = []
        for name, datatype in CLF_TYPES.items():
            tensor = v2.InferInput(name, [len(features)], datatype)
            values = features[name].to_numpy()
            if datatype == "BYTES":
                values = values.astype(np.object_)
            tensor.set_data_from_numpy(values)
            inputs.append(tensor)
        result = client.infer("clf", inputs, outputs=[v2.InferRequestedOutput("predict")])
    finally:
        client.close()
    assert result.as_numpy("predict").tolist() == clf.model.predict(features).tolist()


def test_predict_records(clf: Served) -> None:
    records = clf.test.head(5).to_dict(orient="records")  # with the target: ignored
    status, answer = request(clf, "POST", "/predict", {"records": records})
    assert status == 200, answer
    features = clf.features.head(5)
    assert answer["predictions"] == clf.model.predict(features).tolist()
    assert answer["classes"] == clf.model.classes_.tolist()
    assert np.allclose(answer["probabilities"], clf.model.predict_proba(features))
    status, bare = request(clf, "POST", "/predict", records)
    assert status == 200 and bare["predictions"] == answer["predictions"]


def test_regression_predictions_are_exact(reg: Served) -> None:
    features = reg.features
    status, answer = infer(reg, {"inputs": columnar(features, {"x1": "FP64", "x2": "FP64"})})
    assert status == 200, answer
    got = outputs(answer)["predict"]
    assert got["datatype"] == "FP64"
    assert np.array_equal(got["data"], reg.model.predict(features.to_numpy()))


def test_large_batch(clf: Served) -> None:
    rng = np.random.default_rng(5)
    n = 10_000
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 10, size=n),
            "color": rng.choice(COLORS, size=n),
        }
    )
    status, answer = infer(clf, {"inputs": columnar(frame, CLF_TYPES)})
    assert status == 200, answer
    assert outputs(answer)["predict"]["data"] == clf.model.predict(frame).tolist()


def _row(**changes: Any) -> dict[str, Any]:
    row = {"a": 0.5, "b": 3, "color": "red"}
    row.update(changes)
    return row


def _inputs(**changes: Any) -> dict[str, Any]:
    frame = pd.DataFrame([_row()])
    inputs = columnar(frame, CLF_TYPES)
    for tensor in inputs:
        if tensor["name"] in changes:
            tensor["data"] = [changes[tensor["name"]]]
    return {"inputs": inputs}


BAD_REQUESTS = {
    "malformed JSON": ("/v2/models/clf/infer", b'{"inputs": [', 400, "not valid JSON"),
    "records malformed": ("/predict", b"[{", 400, "not valid JSON"),
    "not an object": ("/v2/models/clf/infer", b"[1, 2]", 400, "not an object"),
    "no inputs": ("/v2/models/clf/infer", {"inputs": []}, 400, "inputs"),
    "missing column": (
        "/v2/models/clf/infer",
        {"inputs": [t for t in _inputs()["inputs"] if t["name"] != "b"]},
        422,
        "missing column 'b'",
    ),
    "missing column in records": ("/predict", [{"a": 1.0, "color": "red"}], 422, "'b'"),
    "string in numeric column": (
        "/v2/models/clf/infer",
        _inputs(a="high"),
        422,
        "column 'a': row 0 is 'high'",
    ),
    "string in numeric record": ("/predict", [_row(b="3")], 422, "column 'b'"),
    "fraction in integer column": ("/predict", [_row(b=2.5)], 422, "column 'b'"),
    "number in string column": ("/predict", [_row(color=7)], 422, "column 'color'"),
    "null in a column": ("/predict", [_row(a=None)], 422, "column 'a' fails not_nullable"),
    "infinity": ("/v2/models/clf/infer", _inputs(a=float("inf")), 422, "column 'a': row 0 is inf"),
    "out of range": ("/predict", [_row(a=50.0)], 422, "column 'a' fails in_range"),
    "negative int": ("/predict", [_row(b=-1)], 422, "column 'b' fails greater_than_or_equal_to"),
    "unknown category": ("/predict", [_row(color="purple")], 422, "column 'color' fails isin"),
    "empty V2 batch": (
        "/v2/models/clf/infer",
        {
            "inputs": [
                {"name": n, "shape": [0], "datatype": t, "data": []} for n, t in CLF_TYPES.items()
            ]
        },
        400,
        "empty",
    ),
    "empty records": ("/predict", {"records": []}, 400, "empty"),
    "unknown input": (
        "/v2/models/clf/infer",
        {
            "inputs": [
                *_inputs()["inputs"],
                {"name": "z", "shape": [1], "datatype": "FP64", "data": [1]},
            ]
        },
        422,
        "unknown input 'z'",
    ),
    "2-D of the wrong width": (
        "/v2/models/clf/infer",
        {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]},
        422,
        "takes 3: a, b, color",
    ),
    "shape and data disagree": (
        "/v2/models/clf/infer",
        {"inputs": [{"name": "a", "shape": [3], "datatype": "FP64", "data": [1.0]}]},
        400,
        "shape [3] holds 3 elements",
    ),
    "unknown output": (
        "/v2/models/clf/infer",
        {**_inputs(), "outputs": [{"name": "logits"}]},
        400,
        "unknown output 'logits'",
    ),
    "unknown datatype": (
        "/v2/models/clf/infer",
        {"inputs": [{"name": "a", "shape": [1], "datatype": "FLOAT", "data": [1.0]}]},
        400,
        "datatype 'FLOAT'",
    ),
    "unknown model": ("/v2/models/other/infer", _inputs(), 404, "unknown model 'other'"),
    "unknown version": ("/v2/models/clf/versions/9/infer", _inputs(), 404, "no version"),
    "unknown path": ("/v1/models/clf:predict", _inputs(), 404, "no such path"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_requests_are_refused_with_the_reason(clf: Served, case: str) -> None:
    path, body, status, reason = BAD_REQUESTS[case]
    if isinstance(body, bytes):
        got, answer = request(clf, "POST", path, raw=body)
    else:
        got, answer = request(clf, "POST", path, body)
    assert (got, reason in answer.get("error", "")) == (status, True), answer


def test_wrong_method(clf: Served) -> None:
    assert request(clf, "GET", "/v2/models/clf/infer")[0] == 405
    status, answer = request(clf, "POST", "/v2/health/ready", {})
    assert status == 405 and "use GET" in answer["error"]
    assert request(clf, "DELETE", "/predict")[0] == 405


def test_body_over_64_mib_is_refused_unread(clf: Served) -> None:
    host, port = clf.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/v2/models/clf/infer")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(65 * 1024 * 1024))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413
    assert "64 MiB" in json.loads(response.read())["error"]
    connection.close()


def test_keep_alive_connection_survives_a_refusal(clf: Served) -> None:
    host, port = clf.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    for body, status in ((b"{", 400), (json.dumps(_inputs()).encode(), 200)):
        connection.request("POST", "/v2/models/clf/infer", body=body)
        response = connection.getresponse()
        response.read()
        assert response.status == status
    connection.close()


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests_rows_and_refusals(clf: Served) -> None:
    infer(clf, {"inputs": columnar(clf.features.head(4), CLF_TYPES)})
    request(clf, "POST", "/predict", [_row(a="x")])
    status, text = request(clf, "GET", "/metrics")
    assert status == 200
    assert _metric(text, "mlci_serving_requests_total", endpoint="infer", code="200") >= 1
    assert _metric(text, "mlci_serving_requests_total", endpoint="predict", code="422") >= 1
    assert _metric(text, "mlci_serving_rows_predicted_total") >= 4
    assert _metric(text, "mlci_serving_validation_failures_total", column="a") >= 1
    assert _metric(text, "mlci_serving_request_seconds_count", endpoint="infer") >= 1
    assert "mlci_serving_request_seconds_bucket" in text
    assert "_created" not in text


def test_one_log_line_per_request_and_no_bodies(clf: Served) -> None:
    request(clf, "POST", "/predict", [_row(color="secret-purple")])
    request(clf, "GET", "/v2/health/live")
    log = clf.log.read_text()
    assert re.search(r"POST /predict 422 \d+\.\dms", log)
    assert re.search(r"GET /v2/health/live 200 \d+\.\dms", log)
    assert "secret-purple" not in log
    assert "Traceback" not in log


SERVE = (sys.executable, "-m", "mlci_action.serving")


def test_unloadable_model_exits_1_with_the_reason(tmp_path: Path) -> None:
    model = tmp_path / "model.skops"
    model.write_bytes(b"\x80\x04not a skops file")
    done = subprocess.run(
        [*SERVE, "--model", str(model), "--name", "m", "--columns", '["a"]', "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "cannot read the model file as skops" in done.stderr


def test_bad_argument_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [*SERVE, "--model", "m.skops", "--name", "m", "--columns", "{not json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "--columns is not valid JSON" in done.stderr
