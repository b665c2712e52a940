"""The server's limits, read once from the environment at entry.

``MLCI_SERVE_TIMEOUT`` (seconds, default 30): a request's headers and body must arrive within
it, counted from its first byte; a connection that sends nothing for that long is closed too.
``MLCI_SERVE_MAX_BODY`` (bytes, default 64 MiB): a larger Content-Length is refused (413)
before the body is read; a chunked body is counted as it arrives and refused once over.
``MLCI_SERVE_MAX_INFLIGHT`` (default 64, per server process): requests being handled at once;
one more is answered 503 with ``Retry-After`` (idle keep-alive connections do not count).
``MLCI_SERVE_THREADS`` (default 1, per server process): the threads the model's native code
(OpenMP, BLAS) may use for one prediction. Requests run in parallel across processes
(WORKERS); an OpenMP team per single-row prediction on busy cores costs more than it saves
(measured: 4 ms against 160 ms for one row of a gradient-boosting model on a loaded machine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlci_action.errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 30.0
    max_body: int = 64 * MIB
    max_inflight: int = 64
    threads: int = 1
    keep_alive_s: float = 5.0
    """An idle keep-alive connection is closed after this long (uvicorn's timeout_keep_alive)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Limits:
        default = cls()
        timeout = _number(environ, "MLCI_SERVE_TIMEOUT", default.timeout_s, "seconds, e.g. 30")
        return cls(
            timeout_s=timeout,
            max_body=int(
                _number(environ, "MLCI_SERVE_MAX_BODY", default.max_body, "bytes, e.g. 67108864")
            ),
            max_inflight=int(
                _number(environ, "MLCI_SERVE_MAX_INFLIGHT", default.max_inflight, "e.g. 64")
            ),
            threads=int(_number(environ, "MLCI_SERVE_THREADS", default.threads, "e.g. 1")),
            keep_alive_s=min(default.keep_alive_s, timeout),
        )

    def describe_body(self) -> str:
        if self.max_body % MIB == 0:
            return f"{self.max_body} ({self.max_body // MIB} MiB)"
        return str(self.max_body)


def _number(environ: Mapping[str, str], name: str, default: float, example: str) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    whole = isinstance(default, int)
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        kind = "a whole number" if whole else "a number"
        raise ConfigError(
            f"{name}={raw!r}: expected {kind} greater than 0 ({example})",
            hint=f"unset {name} for the default, {default:g}",
        )
    return value
