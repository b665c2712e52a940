"""The ASGI application: limits, body reading, dispatch to the routes, metrics, one log line.

Served by uvicorn (:mod:`mlci_action.serving.processes`); Starlette reads the request. Each
request is checked against the limits before any work: too many in flight is a 503 with
``Retry-After``; a Content-Length over the body limit is a 413 before a byte of the body is
read, and a chunked body is counted as it arrives and refused as soon as it is over. Bodies
over ``_LARGE`` bytes are read and handled one at a time per process, so a few concurrent
large requests cannot multiply the memory a parsed batch takes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from starlette.requests import ClientDisconnect, Request
from threadpoolctl import threadpool_limits

from mlci_action.serving.inference_log.records import request_id_from
from mlci_action.serving.limits import Limits
from mlci_action.serving.server import Answer, Incoming, ServerState, answer, error, resolve

log = logging.getLogger("mlci.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_INLINE = 64 * 1024
"""Bodies up to this size are answered on the event loop (a thread hop costs more than the
work); larger ones in a thread, so health checks and small requests are not held up."""
_LARGE = 1024 * 1024


class _Gone(Exception):
    """The client disconnected (or timed out) while sending its body."""


class ServingApp:
    def __init__(self, state: ServerState, limits: Limits) -> None:
        self.state = state
        self.limits = limits
        self.inflight = 0
        self._large = asyncio.Semaphore(1)
        # the threads that answer large requests; the OpenMP thread limit is per thread
        self._pool = ThreadPoolExecutor(
            max_workers=4,
            thread_name_prefix="predict",
            initializer=limit_threads,
            initargs=(limits.threads,),
        )

    async def _in_thread(self, route: Any, incoming: Incoming) -> Answer:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(answer, self.state, route, incoming))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        endpoint = "unknown"
        if self.inflight >= self.limits.max_inflight:
            endpoint = "overloaded"
            reply = error(
                503,
                f"the server is handling {self.inflight} requests, its limit "
                "(MLCI_SERVE_MAX_INFLIGHT); retry shortly",
                headers=(("Retry-After", "1"),),
            )
        else:
            self.inflight += 1
            try:
                route, missing = resolve(path, self.state.slot.name)
                if route is None:
                    reply = error(404, missing)
                else:
                    endpoint = route.endpoint
                    reply = await self._handle(Request(scope, receive), route, method)
            except _Gone:
                log.info("%s %s: the client went away before sending its body", method, path)
                return
            except Exception:  # a bug: never a traceback to the client
                log.exception("unexpected error answering %s %s", method, path)
                reply = error(500, "internal server error; see the server log")
            finally:
                self.inflight -= 1
        await _send(send, reply, head=method == "HEAD")
        seconds = time.perf_counter() - started
        self.state.metrics.observe(endpoint, reply.status, seconds)
        log.info("%s %s %d %.1fms", method, path, reply.status, seconds * 1000)

    async def _handle(self, request: Request, route: Any, method: str) -> Answer:
        if method not in route.methods:
            return error(
                405,
                f"{method} is not allowed here; use {', '.join(route.methods)}",
                headers=(("Allow", ", ".join(route.methods)),),
            )
        if method != "POST":
            return answer(self.state, route, Incoming(b"", None))
        headers = request.headers
        request_id = request_id_from(headers.get("x-request-id"))
        raw_length = headers.get("content-length")
        length: int | None = None
        if raw_length is not None:
            try:
                length = int(raw_length)
            except ValueError:
                length = -1
            if length < 0:
                return error(400, f"bad Content-Length {raw_length!r}", headers=_CLOSE)
            if length > self.limits.max_body:
                return self._too_large(f"the body is {length} bytes")
        header_length = headers.get("inference-header-content-length")
        if length is not None and length <= _LARGE:
            body = await self._read(request)
        else:  # large or chunked: one at a time, and only once there is room
            try:
                await asyncio.wait_for(self._large.acquire(), self.limits.timeout_s)
            except TimeoutError:
                return error(
                    503,
                    "the server is busy with another large request; retry shortly",
                    headers=(("Retry-After", "1"),),
                )
            try:
                body = await self._read(request)
                if isinstance(body, Answer):
                    return body
                return await self._in_thread(route, Incoming(body, header_length, request_id))
            finally:
                self._large.release()
        if isinstance(body, Answer):
            return body
        incoming = Incoming(body, header_length, request_id)
        if len(body) <= _INLINE:
            return answer(self.state, route, incoming)
        return await self._in_thread(route, incoming)

    async def _read(self, request: Request) -> bytes | Answer:
        """The body, counted as it arrives: over the limit is a 413 at once."""
        chunks, total = [], 0
        try:
            async for chunk in request.stream():
                total += len(chunk)
                if total > self.limits.max_body:
                    return self._too_large(f"the body is over {total} bytes")
                chunks.append(chunk)
        except ClientDisconnect:
            raise _Gone from None
        return b"".join(chunks)

    def _too_large(self, what: str) -> Answer:
        return error(
            413,
            f"{what}; the limit is {self.limits.describe_body()} (MLCI_SERVE_MAX_BODY)",
            headers=_CLOSE,  # the rest of the body is never read: the connection is done
        )


_CLOSE = (("Connection", "close"),)


def limit_threads(threads: int) -> None:
    """Cap OpenMP and BLAS threads for predictions made on the calling thread (OpenMP's
    limit is per thread: the event loop's thread and each pool thread call this)."""
    threadpool_limits(threads)


async def _send(send: Send, reply: Answer, *, head: bool) -> None:
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(reply.body)).encode()),
        *((key.lower().encode(), value.encode()) for key, value in reply.headers),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else reply.body})
