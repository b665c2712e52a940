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

Exit status: 0 after SIGTERM/SIGINT, 2 for unusable arguments or schema, 1 if the model
cannot be loaded.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import disable_created_metrics

from mlci_action.errors import ConfigError, MlciError
from mlci_action.serving.model import ServingConfig, load
from mlci_action.serving.server import ModelSlot, PredictionServer, load_in_background

log = logging.getLogger("mlci.serving")


def parse_args(argv: Sequence[str] | None) -> tuple[ServingConfig, str, int]:
    parser = argparse.ArgumentParser(prog="python -m mlci_action.serving")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--project-dir", type=Path, default=Path("."))
    parser.add_argument("--target")
    parser.add_argument("--columns")
    parser.add_argument("--trusted-types")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
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
    return config, args.host, args.port


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


def main(argv: Sequence[str] | None = None) -> int:
    disable_created_metrics()  # no *_created series: this process serves one registry
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config, host, port = parse_args(argv)
        server = PredictionServer((host, port), ModelSlot(config.name))
    except MlciError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        return 2
    bound_host, bound_port = server.server_address[:2]
    log.info("serving model %r on http://%s:%s", config.name, bound_host, bound_port)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    slot = server.slot
    load_in_background(slot, lambda: load(config))
    threading.Thread(target=_stop_on_failure, args=(server,), daemon=True).start()
    with server:
        server.serve_forever(poll_interval=0.2)
    if slot.failure is not None:
        failure = slot.failure
        if isinstance(failure, MlciError):
            log.error("cannot load the model: %s", failure)
            return failure.exit_code
        log.error("cannot load the model", exc_info=failure)
        return 1
    log.info("stopped")
    return 0


def _stop_on_failure(server: PredictionServer) -> None:
    server.slot.loaded.wait()
    if server.slot.failure is not None:
        server.shutdown()
    else:
        log.info("model %r loaded; ready", server.slot.name)


if __name__ == "__main__":
    sys.exit(main())
