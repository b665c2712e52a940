"""The routes: what each path answers, from the request body to a JSON answer.

Plain functions of the server state and the request's bytes; the HTTP plumbing (reading,
limits, timeouts) is :mod:`mlci_action.serving.app`'s. The port opens first and the model loads
in the background, so liveness answers at once and readiness turns 200 when the model is in
memory (what Kubernetes probes expect). Every answer is JSON; a bad request is a 4xx naming
the problem, anything else a logged 500.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mlci_action.serving import protocol
from mlci_action.serving.features import frame_from_columns, frame_from_records, validate
from mlci_action.serving.metrics import CONTENT_TYPE, ServingMetrics
from mlci_action.serving.model import Prediction, ServedModel
from mlci_action.serving.protocol import RequestError

try:
    from importlib.metadata import version as _version

    VERSION = _version("mlci")
except Exception:  # not installed (running from a source tree)
    VERSION = "0"


_MODEL_PATH = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?$")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_answer(status: int, document: Any, **extra: Any) -> Answer:
    return Answer(status, protocol.encode(document), **extra)


def error(status: int, message: str, **extra: Any) -> Answer:
    return json_answer(status, protocol.error_body(message), **extra)


class ModelSlot:
    """The model once loaded; ``failure`` if loading failed (the server then exits)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model: ServedModel | None = None
        self.failure: BaseException | None = None
        self.loaded = threading.Event()

    def set(self, model: ServedModel) -> None:
        self.model = model
        self.loaded.set()

    def fail(self, failure: BaseException) -> None:
        self.failure = failure
        self.loaded.set()


@dataclass
class ServerState:
    """What the routes read: the model slot and this process's metrics."""

    slot: ModelSlot
    metrics: ServingMetrics
    inference_log: InferenceLogHook | None = None
    """Where answered predictions go (mlci_action.serving.inference_log), if anywhere."""


class InferenceLogHook(Protocol):
    def submit(
        self, request_id: str, model: ServedModel, frame: Any, prediction: Prediction
    ) -> None: ...


@dataclass(frozen=True)
class Route:
    endpoint: str
    methods: tuple[str, ...]
    run: Callable[[ServerState, Incoming], Answer]


@dataclass(frozen=True)
class Incoming:
    body: bytes
    header_length: str | None
    """Inference-Header-Content-Length: the binary extension's JSON header size."""
    request_id: str = ""
    """The caller's X-Request-Id or a generated one; answered in X-Request-Id."""


def answer(state: ServerState, route: Route, incoming: Incoming) -> Answer:
    """The route's answer; a RequestError becomes its 4xx (and a 422 is counted by column)."""
    try:
        reply = route.run(state, incoming)
    except RequestError as exc:
        if exc.status == 422:
            state.metrics.refused(exc.columns)
        reply = error(exc.status, exc.message)
    if incoming.request_id:
        reply = replace(reply, headers=(*reply.headers, ("X-Request-Id", incoming.request_id)))
    return reply


def _ready_model(server: ServerState) -> ServedModel:
    model = server.slot.model
    if model is None:
        raise RequestError(503, f"model {server.slot.name!r} is loading")
    return model


def _live(server: ServerState, incoming: Incoming) -> Answer:
    return json_answer(200, {"live": True})


def _ready(server: ServerState, incoming: Incoming) -> Answer:
    ready = server.slot.model is not None
    return json_answer(200 if ready else 503, {"ready": ready})


def _server_metadata(server: ServerState, incoming: Incoming) -> Answer:
    return json_answer(200, protocol.server_metadata(VERSION))


def _model_metadata(server: ServerState, incoming: Incoming) -> Answer:
    return json_answer(200, _ready_model(server).metadata())


def _infer(server: ServerState, incoming: Incoming) -> Answer:
    model = _ready_model(server)
    header = incoming.header_length
    try:
        header_length = None if header is None else int(header)
    except ValueError:
        raise RequestError(400, f"bad Inference-Header-Content-Length {header!r}") from None
    request = protocol.parse_infer_request(incoming.body, header_length)
    wanted = request.outputs is None or "predict_proba" in request.outputs
    matrix = None if model.numeric is None else model.numeric.matrix(request)
    features: Any
    if matrix is not None:
        features = matrix
        prediction = model.predict_matrix(matrix, proba=wanted)
    else:  # the general path: a typed frame, validated; it words every refusal
        columns = protocol.feature_columns(request, model.feature_names)
        features = validate(frame_from_columns(columns, model.features), model.checks)
        prediction = model.predict(features, proba=wanted)
    server.metrics.rows.inc(len(prediction.labels))
    if server.inference_log is not None:
        server.inference_log.submit(incoming.request_id, model, features, prediction)
    return json_answer(200, protocol.infer_response(model.name, request, model.outputs(prediction)))


def _predict(server: ServerState, incoming: Incoming) -> Answer:
    model = _ready_model(server)
    records = protocol.parse_records(incoming.body)
    matrix = None if model.numeric is None else model.numeric.records_matrix(records)
    features: Any
    if matrix is not None:
        features = matrix
        prediction = model.predict_matrix(matrix)
    else:
        features = validate(frame_from_records(records, model.features), model.checks)
        prediction = model.predict(features)
    server.metrics.rows.inc(len(prediction.labels))
    if server.inference_log is not None:
        server.inference_log.submit(incoming.request_id, model, features, prediction)
    answer: dict[str, Any] = {"predictions": prediction.labels.tolist()}
    if prediction.proba is not None and prediction.classes is not None:
        answer["classes"] = prediction.classes.tolist()
        answer["probabilities"] = prediction.proba.tolist()
    return json_answer(200, answer)


def _metrics(server: ServerState, incoming: Incoming) -> Answer:
    return Answer(200, server.metrics.exposition(), content_type=CONTENT_TYPE)


ROUTES = {
    "/v2/health/live": Route("health_live", ("GET",), _live),
    "/v2/health/ready": Route("health_ready", ("GET",), _ready),
    "/v2": Route("server_metadata", ("GET",), _server_metadata),
    "/predict": Route("predict", ("POST",), _predict),
    "/metrics": Route("metrics", ("GET",), _metrics),
}
MODEL_ROUTES = {
    None: Route("model_metadata", ("GET",), _model_metadata),
    "/ready": Route("model_ready", ("GET",), _ready),
    "/infer": Route("infer", ("POST",), _infer),
}


def resolve(path: str, model_name: str) -> tuple[Route | None, str]:
    """The route for ``path``, or None and why not (a 404)."""
    path = path.rstrip("/") or "/"
    if path in ROUTES:
        return ROUTES[path], ""
    match = _MODEL_PATH.match(path)
    if match is None:
        return None, f"no such path: {path}"
    name, version, action = match.groups()
    if name != model_name:
        return None, f"unknown model {name!r}; this server serves {model_name!r}"
    if version not in (None, "1"):
        return None, f"model {name!r} has no version {version!r}; it has version '1'"
    return MODEL_ROUTES[action], ""


def load_in_background(slot: ModelSlot, loader: Callable[[], ServedModel]) -> threading.Thread:
    def run() -> None:
        try:
            slot.set(loader())
        except BaseException as exc:  # reported by the caller, which stops the server
            slot.fail(exc)

    thread = threading.Thread(target=run, name="load-model", daemon=True)
    thread.start()
    return thread
