"""The inference log's settings, read once from the environment at entry (exit 2 if bad).

``MLCI_LOG_PATH``            a directory or fsspec URL for the log files; empty: no files
``MLCI_LOG_FORMAT``          ``jsonl`` (default) or ``parquet`` (needs pyarrow in the image)
``MLCI_LOG_SAMPLE``          the share of requests logged, 0..1 (default 1)
``MLCI_LOG_QUEUE``           requests waiting for the writer at most (default 10000); more
                             are dropped and counted, never waited for
``MLCI_LOG_ROTATE_MB``       a file is closed past this size (default 64)
``MLCI_LOG_ROTATE_SECONDS``  ... or this age (default 3600)
``MLCI_LOG_CLOUDEVENTS_URL`` an http(s) URL that receives KServe inference-logger CloudEvents
``MLCI_REFERENCE``           the reference profile (default: reference.json next to the model)
``MLCI_DRIFT_WINDOW``        live rows the drift gauges compare (default 5000; 0: no gauges)
``MLCI_IMAGE_DIGEST``        the serving image's digest, written in every record (may be empty)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mlci_action.errors import ConfigError
from mlci_action.serving.inference_log.reference import LiveReference, load_reference

FORMATS = ("jsonl", "parquet")


@dataclass(frozen=True)
class LogSettings:
    path: str = ""
    format: str = "jsonl"
    sample: float = 1.0
    queue: int = 10000
    rotate_bytes: int = 64 * 1024 * 1024
    rotate_seconds: float = 3600.0
    cloudevents_url: str = ""
    reference: LiveReference | None = None
    drift_window: int = 5000
    image_digest: str = ""
    cloudevents_timeout_s: float = 2.0

    @property
    def enabled(self) -> bool:
        """Whether anything listens: a sink, or drift gauges to keep."""
        return bool(self.path or self.cloudevents_url) or self.drifts

    @property
    def drifts(self) -> bool:
        return self.reference is not None and self.drift_window > 0

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], model_path: Path | None = None
    ) -> LogSettings:
        default = cls()
        fmt = environ.get("MLCI_LOG_FORMAT", "").strip().lower() or default.format
        if fmt not in FORMATS:
            raise ConfigError(
                f"MLCI_LOG_FORMAT={environ['MLCI_LOG_FORMAT']!r}: expected jsonl or parquet",
                hint="unset it for JSON Lines",
            )
        path = environ.get("MLCI_LOG_PATH", "").strip()
        if fmt == "parquet" and path:
            _require("pyarrow", "MLCI_LOG_FORMAT=parquet")
        if "://" in path and not path.startswith("file://"):
            _require("fsspec", f"MLCI_LOG_PATH={path!r}")
        url = environ.get("MLCI_LOG_CLOUDEVENTS_URL", "").strip()
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise ConfigError(
                f"MLCI_LOG_CLOUDEVENTS_URL={url!r}: expected an http:// or https:// URL",
                hint="e.g. http://message-dumper.default.svc.cluster.local",
            )
        window = int(_number(environ, "MLCI_DRIFT_WINDOW", default.drift_window, "0 or more"))
        return cls(
            path=path,
            format=fmt,
            sample=_number(environ, "MLCI_LOG_SAMPLE", default.sample, "0..1", high=1.0),
            queue=int(_number(environ, "MLCI_LOG_QUEUE", default.queue, "1 or more", low=1)),
            rotate_bytes=int(
                _number(environ, "MLCI_LOG_ROTATE_MB", 64, "megabytes, more than 0", low=1e-9)
                * 1024
                * 1024
            ),
            rotate_seconds=_number(
                environ, "MLCI_LOG_ROTATE_SECONDS", default.rotate_seconds, "seconds", low=1e-9
            ),
            cloudevents_url=url,
            reference=_reference(environ, model_path) if window > 0 else None,
            drift_window=window,
            image_digest=environ.get("MLCI_IMAGE_DIGEST", "").strip(),
        )


def _reference(environ: Mapping[str, str], model_path: Path | None) -> LiveReference | None:
    named = environ.get("MLCI_REFERENCE", "").strip()
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(
                f"MLCI_REFERENCE={named!r}: no such file",
                hint="point it at the reference.json built with the model, or unset it",
            )
        return load_reference(path)
    if model_path is not None and (model_path.parent / "reference.json").is_file():
        return load_reference(model_path.parent / "reference.json")
    return None


def _require(module: str, what: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(
            f"{what} needs the {module} package, which this environment does not have",
            hint=f"add {module} to the project's requirements (environment.requirements)",
        ) from None


def _number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    expected: str,
    *,
    low: float = 0.0,
    high: float = float("inf"),
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    whole = isinstance(default, int)
    if not (low <= value <= high) or value == float("inf") or (whole and value != int(value)):
        raise ConfigError(
            f"{name}={raw!r}: expected {'a whole number' if whole else 'a number'}, {expected}",
            hint=f"unset {name} for the default, {default:g}",
        )
    return value


def describe(settings: LogSettings) -> str:
    """One line for the server's start-up log."""
    sinks = []
    if settings.path:
        sinks.append(f"{settings.format} files in {settings.path}")
    if settings.cloudevents_url:
        sinks.append(f"CloudEvents to {settings.cloudevents_url}")
    logged = " and ".join(sinks) or "nowhere (MLCI_LOG_PATH, MLCI_LOG_CLOUDEVENTS_URL unset)"
    drift = (
        f"drift gauges over the last {settings.drift_window} rows against {settings.reference.path}"
        if settings.reference is not None and settings.drift_window
        else "no drift gauges (no reference profile)"
    )
    return f"inference log: {logged}, sample {settings.sample:g}; {drift}"
