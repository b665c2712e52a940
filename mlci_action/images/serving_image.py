"""The serving image: environment image + serving settings + the model as the last layer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from mlci_action import __version__
from mlci_action.config import Config
from mlci_action.dataset import data_digest
from mlci_action.hashing import file_digest, value_digest
from mlci_action.images.docker_api import BuildContext, Docker, LogSink
from mlci_action.layout import REFERENCE_IN_IMAGE
from mlci_action.record import MetricResult

SERVING_DIR = "/opt/mlci/serving"
MODEL_PATH = "/opt/mlci/model/model.skops"


@cache
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("mlci_action.images", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class ServingImage:
    tag: str
    image_id: str
    labels: dict[str, str]
    size_bytes: int
    model_layer_bytes: int
    environment_image: str


def serving_command(config: Config, port: int | None = None) -> list[str]:
    """The server's arguments; without ``port`` it listens on $PORT (the image sets 8080)."""
    args = ["--model", MODEL_PATH, "--name", config.name, "--host", "0.0.0.0"]
    if port is not None:
        args += ["--port", str(port)]
    args += ["--trusted-types", json.dumps(config.evaluation.trusted_types)]
    args += ["--target", config.data.target]
    if config.data.schema_:
        path, _, cls = config.data.schema_.partition(":")
        spec = {"kind": "python" if path.endswith(".py") else "yaml", "path": Path(path).name}
        if cls:
            spec["name"] = cls
        args += ["--schema", json.dumps(spec), "--project-dir", SERVING_DIR]
    return args


def oci_labels(
    config: Config,
    *,
    revision: str | None,
    source: str | None,
    metrics: dict[str, MetricResult],
    data_hash: str,
    environment_key: str,
) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": config.name,
        "org.opencontainers.image.version": (revision or "dev")[:12],
        "org.opencontainers.image.revision": revision or "",
        "org.opencontainers.image.source": source or "",
        "org.opencontainers.image.created": datetime.now(UTC).isoformat(timespec="seconds"),
        "org.mlci.version": __version__,
        "org.mlci.metrics": json.dumps(
            {name: m.candidate for name, m in metrics.items()}, sort_keys=True
        ),
        "org.mlci.data-hash": data_hash,
        "org.mlci.config-hash": value_digest(config.model_dump(mode="json")),
        "org.mlci.environment-key": environment_key,
    }


def data_hash(project: Path, config: Config) -> str:
    return value_digest(
        [data_digest(project, config.data.train), data_digest(project, config.data.test)]
    )


def build_serving_image(
    docker: Docker,
    *,
    project: Path,
    config: Config,
    env_image: str,
    model: Path,
    labels: dict[str, str],
    sink: LogSink,
    reference: Path | None = None,
) -> ServingImage:
    """``reference``: the reference profile, copied beside the model (same layer)."""
    files: dict[str, bytes | Path] = {"model.skops": model}
    if reference is not None:
        files["reference.json"] = reference
    if config.data.schema_:
        schema = project / config.data.schema_.partition(":")[0]
        files[f"serving/{schema.name}"] = schema
    else:
        files["serving/.keep"] = b""
    dockerfile = (
        templates()
        .get_template("Dockerfile.serve.j2")
        .render(
            name=config.name,
            env_image=env_image,
            command=json.dumps(serving_command(config)),
            reference=REFERENCE_IN_IMAGE if reference is not None else "",
        )
    )
    tag = f"mlci-serve/{config.name}:{file_digest(model)[:20]}"
    image_id = docker.build(
        BuildContext(dockerfile=dockerfile, files=files), tag, sink, labels=labels
    )
    image = docker.client.images.get(image_id)
    # newest first; labels add empty entries above the model's COPY, which names its
    # destination (a COPY of two files, model and reference, is "COPY multi:<hash> in DIR/")
    history = image.history()
    model_layer = next(
        (
            int(h.get("Size", 0))
            for h in history
            if "COPY" in h.get("CreatedBy", "") and "/opt/mlci/model/" in h.get("CreatedBy", "")
        ),
        0,
    )
    return ServingImage(
        tag=tag,
        image_id=image_id,
        labels=labels,
        size_bytes=int(image.attrs.get("Size", 0)),
        model_layer_bytes=model_layer,
        environment_image=env_image,
    )
