"""The environment image: the project's requirements plus mlci's runtime, keyed by content.

The executors own the environment's spec (its key, its files, the image context); building
and running images is :mod:`mlci_action.images` plumbing, which never imports back."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from mlci_action.config import Config
from mlci_action.errors import ConfigError
from mlci_action.executors.base import (
    MLCI_SOURCE,
    RUNTIME_REQUIREMENTS,
    check_environment_files,
    environment_key,
)
from mlci_action.executors.local import uv_bin
from mlci_action.hashing import tree_digest, value_digest
from mlci_action.images.docker_api import BuildContext, Docker, LogSink

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
SERVING_REQUIREMENTS = (
    "prometheus-client>=0.20",
    "starlette>=1.10,<2",
    "uvicorn>=0.54,<0.55",  # mlci_action/serving/connection.py subclasses its HTTP protocol
    "httptools>=0.9,<0.10",
    "uvloop>=0.23,<0.24",
    "orjson>=3.10,<4",
    "threadpoolctl>=3.1",
)
"""The prediction server's own dependencies (as in pyproject.toml), installed with the
project's requirements in the environment image."""


@cache
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("mlci_action.executors", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def mlci_source_digest() -> str:
    return tree_digest(MLCI_SOURCE / "mlci_action")


def image_key(project: Path, config: Config) -> str:
    own = project / config.deploy.dockerfile if config.deploy.dockerfile else None
    return value_digest(
        [
            environment_key(project, config.environment, config.deploy.base_image, "docker"),
            SERVING_REQUIREMENTS,
            mlci_source_digest(),  # the image carries mlci's own code
            own.read_text(encoding="utf-8") if own and own.is_file() else None,
        ]
    )


def image_tag(project: Path, config: Config) -> str:
    return f"mlci-env/{config.name}:{image_key(project, config)[:20]}"


def build_context(project: Path, config: Config) -> BuildContext:
    env = config.environment
    check_environment_files(project, env)
    files: dict[str, bytes | Path] = {
        "uv": Path(uv_bin()),
        "mlci_action": MLCI_SOURCE / "mlci_action",
        "ca-certificates.crt": HOST_CA.read_bytes() if HOST_CA.is_file() else b"",
    }
    requirements = []
    for index, name in enumerate(env.requirements):
        inside = f"{index}-{Path(name).name}"
        files[f"requirements/{inside}"] = project / name
        requirements.append(inside)
    lock = None
    if env.lock:
        lock = f"lock-{Path(env.lock).name}"
        files[f"requirements/{lock}"] = project / env.lock
    if config.deploy.dockerfile:
        path = project / config.deploy.dockerfile
        if not path.is_file():
            raise ConfigError(f"{path}: deploy.dockerfile named in mlci.yaml not found")
        dockerfile = path.read_text(encoding="utf-8")
    else:
        dockerfile = (
            templates()
            .get_template("Dockerfile.env.j2")
            .render(
                name=config.name,
                base_image=config.deploy.base_image,
                requirements=requirements,
                lock=lock,
                runtime=[*RUNTIME_REQUIREMENTS, *SERVING_REQUIREMENTS],
            )
        )
    if not requirements:
        files["requirements/.keep"] = b""
    return BuildContext(dockerfile=dockerfile, files=files)


def ensure_environment_image(
    docker: Docker, project: Path, config: Config, sink: LogSink
) -> tuple[str, bool]:
    """The environment image's tag, built unless an image with that content key exists."""
    tag = image_tag(project, config)
    if docker.image_exists(tag):
        return tag, True
    docker.build(
        build_context(project, config),
        tag,
        sink,
        labels={
            "org.mlci.environment-key": image_key(project, config),
            "org.mlci.name": config.name,
        },
    )
    return tag, False
