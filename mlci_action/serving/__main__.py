"""``python -m mlci_action.serving``: parse the arguments, open the port, load, serve.

Arguments::

    --model PATH            the skops model file
    --name NAME             the model's name in the V2 paths (/v2/models/NAME/...)
    --schema JSON           the training schema, {"kind": "python"|"yaml", "path": ..., "name": ...}
    --project-dir DIR       what the schema path is relative to (default: .)
    --target COLUMN         the schema's target column, not expected in requests
    --columns JSON          the feature names in order, when the model does not record them
    --trusted-types JSON    extra types the skops file may hold (mlci's trust policy)
    --host 127.0.0.1 --port 8080   (port 0 picks a free port; the log line names it)
    --workers N             server processes, each with the model loaded (default: 1)

Environment: ``PORT`` is the default of --port and ``WORKERS`` of --workers, so a platform
that sets them (Cloud Run, Heroku, ``docker run -e PORT=9000``) is obeyed; the flags win.
``MLCI_SERVE_TIMEOUT``, ``MLCI_SERVE_MAX_BODY`` and ``MLCI_SERVE_MAX_INFLIGHT`` set the limits
(:mod:`mlci_action.serving.limits`). ``MLCI_LOG_*``, ``MLCI_REFERENCE`` and ``MLCI_DRIFT_WINDOW``
set the inference log and the drift gauges (:mod:`mlci_action.serving.inference_log.settings`).

Exit status: 0 after SIGTERM/SIGINT, 2 for unusable arguments or schema, 1 if the model
cannot be loaded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import disable_created_metrics

from mlci_action.errors import ConfigError, MlciError
from mlci_action.serving.inference_log.settings import LogSettings, describe
from mlci_action.serving.limits import Limits
from mlci_action.serving.model import ServingConfig, load
from mlci_action.serving.processes import listen, serve

log = logging.getLogger("mlci.serving")


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    workers: int
    limits: Limits
    logging: LogSettings


def _count(name: str, raw: str | None, *, low: int) -> int | None:
    """A whole number >= ``low`` from a flag or a variable (None when unset)."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise ConfigError(
            f"{name}={raw!r}: expected a whole number of at least {low}",
            hint="PORT is the port to listen on (e.g. 8080); WORKERS the server processes",
        )
    return value


def parse_args(
    argv: Sequence[str] | None, environ: Mapping[str, str] = os.environ
) -> tuple[ServingConfig, Listen]:
    parser = argparse.ArgumentParser(prog="python -m mlci_action.serving")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--project-dir", type=Path, default=Path("."))
    parser.add_argument("--target")
    parser.add_argument("--columns")
    parser.add_argument("--trusted-types")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", help="default: $PORT, else 8080")
    parser.add_argument("--workers", help="server processes; default: $WORKERS, else 1")
    args = parser.parse_args(argv)
    port_name = "--port" if args.port is not None else "PORT"
    port = _count(port_name, args.port if args.port is not None else environ.get("PORT"), low=0)
    workers_name = "--workers" if args.workers is not None else "WORKERS"
    workers = _count(
        workers_name, args.workers if args.workers is not None else environ.get("WORKERS"), low=1
    )
    if port is not None and port > 65535:
        raise ConfigError(f"{port_name}={port}: a port is at most 65535")
    if "/" in args.name or not args.name.strip():
        raise ConfigError(f"--name {args.name!r}: a model name cannot be empty or hold '/'")
    schema = _json_arg("--schema", args.schema, dict)
    columns = _json_arg("--columns", args.columns, list)
    trusted = _json_arg("--trusted-types", args.trusted_types, list)
    config = ServingConfig(
        model_path=args.model,
        name=args.name,
        schema=schema,
        project_dir=args.project_dir,
        trusted_types=tuple(map(str, trusted or ())),
        target=args.target,
        columns=None if columns is None else tuple(map(str, columns)),
    )
    limits = Limits.from_environ(environ)
    logging_ = LogSettings.from_environ(environ, config.model_path)
    return config, Listen(args.host, 8080 if port is None else port, workers or 1, limits, logging_)


def _json_arg(flag: str, raw: str | None, kind: type) -> Any:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{flag} is not valid JSON: {exc.msg}") from None
    if not isinstance(value, kind):
        raise ConfigError(f"{flag} must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    disable_created_metrics()  # no *_created series: this process serves one registry
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config, settings = parse_args(argv, environ)
        sock = listen(settings.host, settings.port)
    except MlciError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc.strerror or exc)
        return 2
    bound_host, bound_port = sock.getsockname()[:2]
    log.info("serving model %r on http://%s:%s", config.name, bound_host, bound_port)
    limits = settings.limits
    log.info(
        "%d server process(es) (WORKERS); at most %d requests in flight each; request timeout "
        "%gs; body limit %s bytes; %d native thread(s) per prediction",
        settings.workers,
        limits.max_inflight,
        limits.timeout_s,
        limits.describe_body(),
        limits.threads,
    )
    log.info("%s", describe(settings.logging))
    return serve(
        sock, config.name, lambda: load(config), limits, settings.workers, settings.logging
    )


def exit_now(code: int) -> None:
    """End the process once the server has stopped, without the interpreter's teardown of
    every module the model pulled in (seconds of CPU, spent after the last request, while
    ``docker stop`` waits). Outside a container the re-raised SIGTERM already ends it so;
    as a container's process 1 that signal is ignored and the teardown would run."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
