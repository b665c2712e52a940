"""The services that scripts/services.sh provides are real and behave as the Docker tests need."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

import docker
import pytest
from docker.errors import APIError

from tests.docker.conftest import Registry

PUSH_REPOSITORY = "mlci-test/base"
PUSH_TAG = "t1"


def push_errors(stream: Iterable[dict[str, Any]]) -> list[str]:
    """The errors a push stream reports: docker-py does not raise on them (docker-py #3161)."""
    errors = []
    for item in stream:
        if "errorDetail" in item or "error" in item:
            detail = item.get("errorDetail") or {}
            errors.append(str(detail.get("message") or item.get("error")))
    return errors


@pytest.fixture
def tagged_for_push(
    docker_client: docker.DockerClient, base_image: str, registry: Registry
) -> Iterator[str]:
    repository = registry.repository(PUSH_REPOSITORY)
    docker_client.images.get(base_image).tag(repository, PUSH_TAG)
    yield repository
    docker_client.images.remove(f"{repository}:{PUSH_TAG}")


def test_daemon_answers(docker_client: docker.DockerClient) -> None:
    assert docker_client.ping() is True
    assert docker_client.version()["ApiVersion"]


def test_container_from_base_image_runs_python(
    docker_client: docker.DockerClient, base_image: str
) -> None:
    output = docker_client.containers.run(
        base_image, ["python3", "-c", "print(1)"], network_mode="host", remove=True
    )
    assert output == b"1\n"


def test_login_with_the_right_password(
    docker_client: docker.DockerClient, registry: Registry
) -> None:
    answer = docker_client.login(
        username=registry.username,
        password=registry.password,
        registry=registry.host,
        reauth=True,
    )
    assert answer["Status"] == "Login Succeeded"


def test_login_with_a_wrong_password_fails(
    docker_client: docker.DockerClient, registry: Registry
) -> None:
    with pytest.raises(APIError, match="401 Unauthorized"):
        docker_client.login(
            username=registry.username,
            password=registry.password + "-wrong",
            registry=registry.host,
            reauth=True,
        )


def test_authenticated_push_lands_in_the_registry(
    docker_client: docker.DockerClient, registry: Registry, tagged_for_push: str
) -> None:
    stream = docker_client.images.push(
        tagged_for_push,
        tag=PUSH_TAG,
        auth_config=registry.auth_config,
        stream=True,
        decode=True,
    )
    assert push_errors(stream) == []

    request = urllib.request.Request(
        f"http://{registry.host}/v2/{PUSH_REPOSITORY}/manifests/{PUSH_TAG}",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json",
            "Authorization": "Basic "
            + base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        manifest = json.load(response)
    assert manifest["layers"], manifest


def test_push_with_wrong_credentials_reports_an_error_in_the_stream(
    docker_client: docker.DockerClient, registry: Registry, tagged_for_push: str
) -> None:
    stream = docker_client.images.push(
        tagged_for_push,
        tag=PUSH_TAG,
        auth_config={"username": registry.username, "password": "not-the-password"},
        stream=True,
        decode=True,
    )
    errors = push_errors(stream)
    assert errors, "a push with wrong credentials reported no error"
    assert any("unauthorized" in error for error in errors), errors
