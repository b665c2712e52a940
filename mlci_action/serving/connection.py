"""uvicorn's HTTP protocol with a request timeout: a stalled client is dropped.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but waits forever for a
client that stops half-way through its headers or body, so a few hundred such clients pin a
few hundred connections. Here a request's headers and body must all arrive within
``timeout_s`` of its first byte (and a new connection must start one within that time);
otherwise the client gets a 408 if no answer was started, and the connection is closed. The
application then sees the client disconnect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("mlci.serving")

_BODY = b'{"error": "the request did not arrive in time; send it again"}'
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)


def timed_protocol(timeout_s: float) -> type[HttpToolsProtocol]:
    """The protocol class to pass as uvicorn's ``http=``, with this timeout."""
    return type("TimedHttpToolsProtocol", (TimedHttpToolsProtocol,), {"timeout_s": timeout_s})


class TimedHttpToolsProtocol(HttpToolsProtocol):
    timeout_s: float = 30.0
    _deadline: asyncio.TimerHandle | None = None
    _in_headers = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request does not stay open

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._in_headers or cycle is None or not cycle.response_started:
            self.transport.write(_TIMED_OUT)
        log.info("closed a connection whose request did not arrive in %gs", self.timeout_s)
        self.transport.close()
