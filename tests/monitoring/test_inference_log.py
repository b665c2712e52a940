"""Inference logging through the real app over loopback HTTP: ids, sampling, a full queue,
failing sinks, and CloudEvents received by a real HTTP receiver."""

from __future__ import annotations

import json
import random
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from mlci_action.serving.inference_log.batch import Batch
from mlci_action.serving.inference_log.writer import InferenceLog
from tests.monitoring.conftest import (
    FEATURES,
    Project,
    metric,
    read_jsonl,
    running,
    sample,
    settings,
)

HEX = re.compile(r"[0-9a-f]{32}")


def test_every_request_is_logged_with_its_id(project: Project, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    batches = [sample(rows, seed) for seed, rows in enumerate([1, 3, 1, 5])]
    with running(
        project, settings(project, path=str(logs), image_digest="sha256:" + "ab" * 32)
    ) as server:
        caller = server.predict(batches[0], request_id="caller-7")
        generated = [server.predict(frame) for frame in batches[1:]]
        assert server.log is not None and server.log.flush()
    assert caller["x-request-id"] == "caller-7"
    ids = ["caller-7"] + [answer["x-request-id"] for answer in generated]
    assert all(HEX.fullmatch(one) for one in ids[1:]) and len(set(ids)) == len(ids)
    records = read_jsonl(logs)
    assert not list(logs.glob("*.tmp"))  # closed and renamed when the server stopped
    assert [(r["id"], r["row"]) for r in records] == [
        (one, row) for one, frame in zip(ids, batches, strict=True) for row in range(len(frame))
    ]
    sent = [row for frame in batches for row in frame.to_dict("records")]
    assert [r["features"] for r in records] == sent
    everything = np.concatenate([project.sklearn.predict(frame) for frame in batches])
    assert [r["prediction"] for r in records] == everything.tolist()
    proba = np.concatenate([project.sklearn.predict_proba(frame) for frame in batches])
    classes = [str(c) for c in project.sklearn.classes_]
    assert [[r["probabilities"][c] for c in classes] for r in records] == proba.tolist()
    assert {(r["model"], r["version"], r["image_digest"]) for r in records} == {
        ("m", "1", "sha256:" + "ab" * 32)
    }
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", r["time"]) for r in records)


@pytest.mark.parametrize(
    "hostile", ["</details>", "a-->b", "`x`", '"]; click', "%%{init}%%", "x" * 129, "a b"]
)
def test_an_id_that_is_not_a_plain_token_is_replaced(
    project: Project, tmp_path: Path, hostile: str
) -> None:
    with running(project, settings(project, path=str(tmp_path))) as server:
        got = server.predict(sample(1, 0), request_id=hostile)["x-request-id"]
        assert server.log is not None and server.log.flush()
    assert HEX.fullmatch(got)
    assert [r["id"] for r in read_jsonl(tmp_path)] == [got]


def test_a_sample_rate_logs_the_requests_the_seeded_coin_picks(
    project: Project, tmp_path: Path
) -> None:
    requests, seed = 40, 5
    coin = random.Random(seed)
    picked = [coin.random() < 0.5 for _ in range(requests)]
    with running(
        project, settings(project, path=str(tmp_path), sample=0.5), rng=random.Random(seed)
    ) as server:
        ids = [server.predict(sample(1, i))["x-request-id"] for i in range(requests)]
        assert server.log is not None and server.log.flush()
    logged = [r["id"] for r in read_jsonl(tmp_path)]
    assert logged == [one for one, pick in zip(ids, picked, strict=True) if pick]
    assert requests * 0.25 < len(logged) < requests * 0.75


class Blocked:
    """A file sink that holds the writer until released: the queue behind it fills up."""

    name = "files"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.rows = 0
        self.writes = 0

    def write(self, batch: Batch, image_digest: str) -> None:
        self.entered.set()
        assert self.release.wait(30)
        self.rows += batch.rows
        self.writes += 1

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_full_queue_drops_and_counts_and_never_holds_a_request(project: Project) -> None:
    sink = Blocked()
    capacity, requests = 2, 7
    with running(project, settings(project, queue=capacity), files=sink) as server:
        server.predict(sample(1, 0))
        assert sink.entered.wait(10)  # the writer holds the first request
        for i in range(1, requests):  # each answered while the writer is blocked
            server.predict(sample(1, i))
        dropped = metric(server.metrics(), "mlci_inference_log_records_total", outcome="dropped")
        assert dropped == requests - 1 - capacity
        sink.release.set()
        assert server.log is not None and server.log.flush()
        text = server.metrics()
    assert sink.rows == 1 + capacity
    assert sink.writes == 2  # what queued up behind the first went in one write, column-wise
    assert metric(text, "mlci_inference_log_records_total", outcome="written") == 1 + capacity


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once it is closed


def test_failing_sinks_never_break_serving(project: Project, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    broken = settings(
        project,
        path=str(blocker / "logs"),  # cannot be made: its parent is a file
        cloudevents_url=f"http://127.0.0.1:{closed_port()}/",
        cloudevents_timeout_s=0.5,
    )
    with running(project, broken) as server:
        for i in range(5):
            assert server.predict(sample(2, i))["x-request-id"]
        assert server.log is not None and server.log.flush()
        text = server.metrics()
    assert metric(text, "mlci_inference_log_records_total", outcome="failed") == 10
    assert metric(text, "mlci_inference_log_records_total", outcome="written") is None
    # one failed write per batch the writer drained: the 5 requests in 1 to 5 of them
    assert 1 <= metric(text, "mlci_inference_log_sink_failures_total", sink="files") <= 5
    assert metric(text, "mlci_inference_log_sink_failures_total", sink="cloudevents") == 5
    # the drift gauges went on regardless
    assert metric(text, "mlci_drift_window_rows") == 10


class Receiver(BaseHTTPRequestHandler):
    events: ClassVar[list[tuple[dict[str, str], Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.events.append((headers, json.loads(body)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], Any]]]]:
    events: ClassVar[list[tuple[dict[str, str], Any]]] = []
    handler = type("Handler", (Receiver,), {"events": events})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/events", events
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_cloudevents_in_kserves_inference_logger_format(project: Project, receiver) -> None:
    url, events = receiver
    frame = sample(3, 4)
    v2 = {
        "inputs": [
            {"name": "a", "shape": [3], "datatype": "FP64", "data": frame["a"].tolist()},
            {"name": "b", "shape": [3], "datatype": "INT64", "data": frame["b"].tolist()},
            {"name": "color", "shape": [3], "datatype": "BYTES", "data": frame["color"].tolist()},
        ]
    }
    with running(project, settings(project, cloudevents_url=url)) as server:
        status, answer, got = server.post("/v2/models/m/infer", v2, {"X-Request-Id": "r-1"})
        assert status == 200 and got["x-request-id"] == "r-1", answer
        server.predict(frame.iloc[:1], request_id="r-2")
        assert server.log is not None and server.log.flush()
    kinds = [(h["ce-id"], h["ce-type"]) for h, _ in events]
    assert kinds == [
        ("r-1", "org.kubeflow.serving.inference.request"),
        ("r-1", "org.kubeflow.serving.inference.response"),
        ("r-2", "org.kubeflow.serving.inference.request"),
        ("r-2", "org.kubeflow.serving.inference.response"),
    ]
    for headers, _ in events:
        assert headers["ce-specversion"] == "1.0"
        assert headers["ce-source"] == "/mlci/serving/m"
        assert headers["ce-inferenceservicename"] == "m"
        assert headers["content-type"] == "application/json"  # binary content mode
    request, response = events[0][1], events[1][1]
    assert request["id"] == "r-1"
    assert {t["name"]: t["data"] for t in request["inputs"]} == {
        name: frame[name].tolist() for name in FEATURES
    }
    outputs = {t["name"]: t for t in response["outputs"]}
    assert response["model_name"] == "m" and response["id"] == "r-1"
    assert outputs["predict"]["data"] == project.sklearn.predict(frame).tolist()
    assert outputs["predict_proba"]["shape"] == [3, 3]
    assert answer["outputs"][0]["data"] == outputs["predict"]["data"]


def test_logging_off_answers_the_same_with_an_id(project: Project) -> None:
    frame = sample(4, 9)
    with running(project, None) as plain:
        status, off, headers = plain.post("/predict", frame.to_dict("records"))
    with running(project, replace(settings(project), drift_window=0)) as logged:
        _, on, _ = logged.post("/predict", frame.to_dict("records"))
    assert status == 200 and off == on and HEX.fullmatch(headers["x-request-id"])


def test_close_writes_what_is_queued(project: Project, tmp_path: Path) -> None:
    log = InferenceLog(settings(project, path=str(tmp_path)), registry=_registry())
    frame = sample(2, 1)
    log.submit("x", project.model, frame, project.model.predict(frame))
    log.close()
    assert [r["id"] for r in read_jsonl(tmp_path)] == ["x", "x"]


def _registry():
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()
