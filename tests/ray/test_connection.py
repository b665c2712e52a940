"""Reaching a cluster: the address, a closed port, versions, and what a pull request may set.

No cluster needed: these check mlci's own decisions with real configs and real sockets."""

from __future__ import annotations

import re
import socket
import time

import pytest
import yaml

from mlci_action.config import Config, Ray, parse_config
from mlci_action.errors import InputError
from mlci_action.executors import create
from mlci_action.executors.ray_cluster import RayExecutor
from mlci_action.executors.ray_cluster.connection import (
    Address,
    Versions,
    check_versions,
    probe,
    resolve,
    settings,
)
from mlci_action.github import trust
from mlci_action.yamlfile import YamlDocument
from tests.conftest import EXAMPLES


def example(**environment: object) -> Config:
    raw = yaml.safe_load((EXAMPLES / "classification" / "mlci.yaml").read_text())
    raw["environment"].update(environment)
    return parse_config(YamlDocument(path=EXAMPLES / "mlci.yaml", data=raw, lines={}))


def test_the_address_comes_from_the_trusted_config_before_ray_address():
    settings = Ray(address="ray://head.example:10001")
    found = resolve(settings, {"RAY_ADDRESS": "ray://other:10001"})
    assert (found.host, found.port, found.source) == (
        "head.example",
        10001,
        "environment.ray.address",
    )
    found = resolve(Ray(), {"RAY_ADDRESS": "ray://10.0.0.7:20001"})
    assert (found.host, found.port, found.source) == ("10.0.0.7", 20001, "RAY_ADDRESS")


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({}, ["no cluster address", "RAY_ADDRESS"]),
        ({"RAY_ADDRESS": "127.0.0.2:6379"}, ["RAY_ADDRESS", "ray://"]),
        ({"RAY_ADDRESS": "ray://head:99999"}, ["RAY_ADDRESS", "out of range"]),
    ],
)
def test_a_missing_or_wrong_address_is_unusable_input(environ, words):
    with pytest.raises(InputError) as caught:
        resolve(Ray(), environ)
    text = f"{caught.value.message} {caught.value.hint}"
    assert all(word in text for word in words), text
    assert caught.value.exit_code == 2


def test_a_closed_port_fails_within_the_timeout_without_printing_the_address():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.2", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        probe(Address("127.0.0.2", port, "RAY_ADDRESS"), timeout=2)
    assert time.monotonic() - started < 30  # bounded, not Ray Client's minutes of retries
    assert "does not answer" in caught.value.message
    assert "RAY_ADDRESS" in caught.value.message
    assert str(port) not in caught.value.message + (caught.value.hint or "")


def test_versions_that_differ_are_named_with_the_fix():
    address = Address("head", 10001, "environment.ray.address")
    here = Versions("3.11.7", "2.60.0")
    check_versions(here, Versions("3.11.2", "2.60.0"), address)  # a patch release may differ
    with pytest.raises(InputError) as caught:
        check_versions(here, Versions("3.12.1", "2.59.0"), address)
    message, hint = caught.value.message, caught.value.hint or ""
    assert "environment.ray.address" in message
    assert "Ray 2.60.0 here, Ray 2.59.0 on the cluster" in message
    assert "Python 3.11.7 here, Python 3.12.1 on the cluster" in message
    assert "3.12" in hint and "ray[client]==2.59.0" in hint
    with pytest.raises(InputError, match=re.escape("Ray 2.60.0 here, Ray 2.61.0")):
        check_versions(here, Versions("3.11.7", "2.61.0"), address)


def test_from_the_action_a_version_mismatch_says_how_to_match_the_cluster_to_it():
    """The action's Python (its image's) and Ray (requirements/ray.txt) are fixed: the fix is
    on the cluster's side, or a job step with the cluster's Python."""
    address = Address("head", 10001, "RAY_ADDRESS")
    here, cluster = Versions("3.12.7", "2.60.0"), Versions("3.10.14", "2.60.0")
    with pytest.raises(InputError) as caught:
        check_versions(here, cluster, address, in_action=True)
    message, hint = caught.value.message, caught.value.hint or ""
    assert "does not match the mlci action" in message
    assert "Python 3.12.7 here, Python 3.10.14 on the cluster" in message
    assert "the action runs Python 3.12 and Ray 2.60.0" in hint
    assert "rayproject/ray:2.60.0-py312" in hint
    assert "Python 3.10" in hint and "ray[client]==2.60.0" in hint
    assert caught.value.exit_code == 2
    config = example(executor="ray")
    environ = {"RAY_ADDRESS": "ray://head:10001"}
    assert not settings(config, environ).in_action
    assert settings(config, {**environ, "MLCI_OWN_ENV": "ray"}).in_action


def _text(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json", by_alias=True, exclude_none=True))


def test_a_pull_request_cannot_choose_the_ray_executor_its_address_or_resources():
    base = example(executor="docker")
    head = example(executor="ray", ray={"address": "ray://attacker.example:10001"})
    head = head.model_copy(
        update={
            "training": head.training.model_copy(
                update={
                    "resources": head.training.resources.model_copy(
                        update={"custom": {"gpu-node": 1}}
                    )
                }
            )
        }
    )
    trusted, report = trust.apply(head, _text(base), "main")
    assert trusted.environment.executor == "docker"
    assert trusted.environment.ray.address is None
    assert trusted.training.resources.custom == {}
    ignored = {change.key for change in report.ignored}
    assert {
        "environment.executor",
        "environment.ray.address",
        "training.resources.custom",
    } <= ignored
    assert trust.require_sandbox(trusted, "pull_request").environment.executor == "docker"


def test_the_base_branch_may_send_pull_requests_to_its_cluster():
    base = example(executor="ray", ray={"address": "ray://ray-head.internal:10001"})
    head = example(executor="local", ray={"address": "ray://attacker.example:10001"})
    trusted, _ = trust.apply(head, _text(base), "main")
    kept = trust.require_sandbox(trusted, "pull_request")
    assert kept.environment.executor == "ray"
    assert kept.environment.ray.address == "ray://ray-head.internal:10001"


def test_the_run_reads_the_address_and_passed_variables_once_at_its_start(tmp_path):
    config = example(executor="ray", pass_env=["WANDB_*", "HF_TOKEN"])
    environ = {
        "RAY_ADDRESS": "ray://head.internal:10001",
        "WANDB_API_KEY": "k",
        "HF_TOKEN": "t",
        "GITHUB_TOKEN": "secret of the action",
        "PATH": "/usr/bin",
    }
    found = settings(config, environ)
    assert (found.address.host, found.address.source) == ("head.internal", "RAY_ADDRESS")
    assert found.pass_env == {"WANDB_API_KEY": "k", "HF_TOKEN": "t"}
    assert found.ray == config.environment.ray
    executor = create(config, tmp_path, environ)
    assert isinstance(executor, RayExecutor)
    assert executor.settings == found
    # without an address the run stops before anything is built or connected (exit 2)
    with pytest.raises(InputError) as caught:
        create(config, tmp_path, {"PATH": "/usr/bin"})
    assert caught.value.exit_code == 2
    assert "RAY_ADDRESS" in (caught.value.hint or "")
