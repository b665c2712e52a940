"""The HTTP side: routes, one handler, the threading server.

The port opens first and the model loads in the background, so liveness answers at once and
readiness turns 200 when the model is in memory (what Kubernetes probes expect). Every
answer is JSON; a bad request is a 4xx naming the problem, anything else a logged 500.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from mlci_action.serving import protocol
from mlci_action.serving.features import frame_from_columns, frame_from_records, validate
from mlci_action.serving.metrics import CONTENT_TYPE, ServingMetrics
from mlci_action.serving.model import ServedModel
from mlci_action.serving.protocol import RequestError

try:
    from importlib.metadata import version as _version

    VERSION = _version("mlci")
except Exception:  # not installed (running from a source tree)
    VERSION = "0"

MAX_BODY = 64 * 1024 * 1024
log = logging.getLogger("mlci.serving")

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


class PredictionServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], slot: ModelSlot, workers: int | None = None
    ) -> None:
        self.slot = slot
        self.metrics = ServingMetrics()
        self.workers = workers
        """At most this many requests are handled at once (None: no limit); more wait in the
        listen queue. One process: scikit-learn's predictions release the GIL for most work."""
        self._slots = threading.BoundedSemaphore(workers) if workers else None
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._slots is not None:
            self._slots.acquire()  # the accept loop waits for a free thread
        try:
            super().process_request(request, client_address)
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            if self._slots is not None:
                self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up is routine; anything else is logged with its traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        log.exception("error on the connection from %s", client_address[0])


@dataclass(frozen=True)
class Route:
    endpoint: str
    methods: tuple[str, ...]
    run: Callable[[PredictionServer, Incoming], Answer]


@dataclass(frozen=True)
class Incoming:
    body: bytes
    header_length: str | None
    """Inference-Header-Content-Length: the binary extension's JSON header size."""


class Handler(BaseHTTPRequestHandler):
    server: PredictionServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms stalls
    server_version = "mlci-serving"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path
        endpoint = "unknown"
        try:
            route, missing = resolve(path, self.server.slot.name)
            if route is None:
                self._discard_body()
                answer = error(404, missing)
            else:
                endpoint = route.endpoint
                answer = self._answer(route, method)
        except Exception:  # a bug: never a traceback to the client
            log.exception("unexpected error answering %s %s", method, path)
            answer = error(500, "internal server error; see the server log")
        self._send(answer, head=method == "HEAD")
        seconds = time.perf_counter() - started
        self.server.metrics.observe(endpoint, answer.status, seconds)
        log.info("%s %s %d %.1fms", method, path, answer.status, seconds * 1000)

    def _answer(self, route: Route, method: str) -> Answer:
        if method not in route.methods:
            self._discard_body()
            return error(
                405,
                f"{method} is not allowed here; use {', '.join(route.methods)}",
                headers=(("Allow", ", ".join(route.methods)),),
            )
        body = b""
        if method == "POST":
            body_or_answer = self._read_body()
            if isinstance(body_or_answer, Answer):
                return body_or_answer
            body = body_or_answer
        incoming = Incoming(body, self.headers.get("Inference-Header-Content-Length"))
        try:
            return route.run(self.server, incoming)
        except RequestError as exc:
            if exc.status == 422:
                self.server.metrics.refused(exc.columns)
            return error(exc.status, exc.message)

    def _read_body(self) -> bytes | Answer:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return error(411, "send the body with a Content-Length, not chunked")
        raw = self.headers.get("Content-Length", "0")
        try:
            length = int(raw)
        except ValueError:
            self.close_connection = True
            return error(400, f"bad Content-Length {raw!r}")
        if length > MAX_BODY:
            self.close_connection = True  # the unread body makes the connection unusable
            return error(413, f"the body is {length} bytes; the limit is {MAX_BODY} (64 MiB)")
        if length < 0:
            self.close_connection = True
            return error(400, f"bad Content-Length {raw!r}")
        return self.rfile.read(length)

    def _discard_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if 0 <= length <= MAX_BODY:
            self.rfile.read(length)
        else:
            self.close_connection = True

    def _send(self, answer: Answer, *, head: bool = False) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers:
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's own lines (malformed request lines): to the log, not raw stderr."""
        log.warning("%s: %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Each request is logged once, by ``_dispatch``, with its duration."""


def _ready_model(server: PredictionServer) -> ServedModel:
    model = server.slot.model
    if model is None:
        raise RequestError(503, f"model {server.slot.name!r} is loading")
    return model


def _live(server: PredictionServer, incoming: Incoming) -> Answer:
    return json_answer(200, {"live": True})


def _ready(server: PredictionServer, incoming: Incoming) -> Answer:
    ready = server.slot.model is not None
    return json_answer(200 if ready else 503, {"ready": ready})


def _server_metadata(server: PredictionServer, incoming: Incoming) -> Answer:
    return json_answer(200, protocol.server_metadata(VERSION))


def _model_metadata(server: PredictionServer, incoming: Incoming) -> Answer:
    return json_answer(200, _ready_model(server).metadata())


def _infer(server: PredictionServer, incoming: Incoming) -> Answer:
    model = _ready_model(server)
    header = incoming.header_length
    try:
        header_length = None if header is None else int(header)
    except ValueError:
        raise RequestError(400, f"bad Inference-Header-Content-Length {header!r}") from None
    request = protocol.parse_infer_request(incoming.body, header_length)
    columns = protocol.feature_columns(request, model.feature_names)
    frame = validate(frame_from_columns(columns, model.features), model.checks)
    wanted = request.outputs is None or "predict_proba" in request.outputs
    prediction = model.predict(frame, proba=wanted)
    server.metrics.rows.inc(len(frame))
    return json_answer(200, protocol.infer_response(model.name, request, model.outputs(prediction)))


def _predict(server: PredictionServer, incoming: Incoming) -> Answer:
    model = _ready_model(server)
    records = protocol.parse_records(incoming.body)
    frame = validate(frame_from_records(records, model.features), model.checks)
    prediction = model.predict(frame)
    server.metrics.rows.inc(len(frame))
    answer: dict[str, Any] = {"predictions": prediction.labels.tolist()}
    if prediction.proba is not None and prediction.classes is not None:
        answer["classes"] = prediction.classes.tolist()
        answer["probabilities"] = prediction.proba.tolist()
    return json_answer(200, answer)


def _metrics(server: PredictionServer, incoming: Incoming) -> Answer:
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
