"""Reaching a Ray cluster: the address, a bounded probe, the Ray Client connection, versions.

The address comes from the trusted configuration (``environment.ray.address``) or
``RAY_ADDRESS``; a pull request can set neither (see :mod:`mlci_action.github.trust`).
Client and cluster must run the same Ray version and Python minor version (Ray Client pickles
functions and objects between them): :func:`check_versions` says so before any work starts.
"""

from __future__ import annotations

import fnmatch
import re
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlci_action.config import Config, Ray
from mlci_action.errors import InputError

_ADDRESS = re.compile(r"^ray://(?P<host>[^\s/:]+|\[[0-9a-fA-F:]+\]):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    source: str
    """Where it was read: ``environment.ray.address`` or ``RAY_ADDRESS``."""

    @property
    def client(self) -> str:
        """host:port, as Ray Client's connect takes it."""
        return f"{self.host}:{self.port}"


def resolve(settings: Ray, environ: Mapping[str, str]) -> Address:
    """The cluster's address: mlci.yaml's environment.ray.address, else RAY_ADDRESS."""
    source, value = "environment.ray.address", settings.address
    if not value:
        source, value = "RAY_ADDRESS", environ.get("RAY_ADDRESS", "")
    if not value:
        raise InputError(
            "environment.executor is ray, but no cluster address is set",
            hint="set RAY_ADDRESS (e.g. from a secret) or environment.ray.address to "
            "ray://<head>:10001, the cluster's Ray Client port",
        )
    match = _ADDRESS.match(value.strip())
    if match is None:
        raise InputError(
            f"{source}: not a Ray Client address",
            hint="write it as ray://<head host>:<client port>, e.g. ray://ray-head:10001 "
            "(mlci submits through Ray Client; a Jobs API or GCS address does not work)",
        )
    port = int(match["port"])
    if not 0 < port < 65536:
        raise InputError(f"{source}: port {port} is out of range", hint="use 1-65535")
    return Address(match["host"].strip("[]"), port, source)


@dataclass(frozen=True)
class ClusterSettings:
    """What the ``ray`` executor reads from outside mlci.yaml, checked once when the run starts
    (:func:`settings`) and handed to the executor: nothing on the cluster's side reads mlci's
    environment."""

    address: Address
    ray: Ray
    """The run's (trusted) environment.ray."""
    pass_env: dict[str, str]
    """The variables the trusted environment.pass_env names, as mlci saw them."""
    in_action: bool = False
    """Whether this is the GitHub Action's own Ray environment (``MLCI_OWN_ENV=ray``, set by
    mlci_action/github/own_env.py), whose Python and Ray the user cannot change: a version
    mismatch then says how to match the cluster to the action instead."""


def settings(config: Config, environ: Mapping[str, str]) -> ClusterSettings:
    """The run's cluster settings: its address (exit 2 when missing or malformed) and what
    environment.pass_env passes (nothing else of mlci's environment goes to the cluster: not
    even PATH or HOME, which are the node's own there)."""
    names = config.environment.pass_env
    passed = {
        name: value
        for name, value in environ.items()
        if any(fnmatch.fnmatchcase(name, n) if n.endswith("*") else name == n for n in names)
    }
    ray = config.environment.ray
    in_action = environ.get("MLCI_OWN_ENV") == "ray"
    return ClusterSettings(resolve(ray, environ), ray, passed, in_action)


def probe(address: Address, timeout: float) -> None:
    """A TCP connection to the client port within ``timeout`` seconds, else exit 2: Ray
    Client itself retries for minutes before it gives up on an address nobody answers."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise InputError(
            f"the Ray cluster at {address.source} does not answer ({reason} after at most "
            f"{timeout:g}s)",
            hint="check that the cluster runs and that its Ray Client port (10001 by default) "
            "is reachable from this machine; the address itself is not printed (it may be a "
            "secret)",
        ) from None


@dataclass(frozen=True)
class Versions:
    python: str
    """major.minor.patch"""
    ray: str

    @classmethod
    def here(cls) -> Versions:
        import ray

        return cls(".".join(map(str, sys.version_info[:3])), str(ray.__version__))

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> Versions:
        """From Ray Client's connection info (``python_version``, ``ray_version``)."""
        return cls(str(info.get("python_version", "?")), str(info.get("ray_version", "?")))

    @property
    def minor(self) -> str:
        return ".".join(self.python.split(".")[:2])


def check_versions(
    client: Versions, cluster: Versions, address: Address, in_action: bool = False
) -> None:
    """Ray Client needs the same Ray version and Python minor version on both ends. From the
    GitHub Action (``in_action``) the client side is fixed: the image's Python, and the Ray of
    requirements/ray.txt."""
    problems = []
    if client.ray != cluster.ray:
        problems.append(f"Ray {client.ray} here, Ray {cluster.ray} on the cluster")
    if client.minor != cluster.minor:
        problems.append(f"Python {client.python} here, Python {cluster.python} on the cluster")
    if problems and in_action:
        raise InputError(
            f"the Ray cluster at {address.source} does not match the mlci action: "
            + "; ".join(problems),
            hint=f"the action runs Python {client.minor} and Ray {client.ray}: run the cluster "
            f"on those (e.g. the image rayproject/ray:{client.ray}-py{client.minor.replace('.', '')}"
            f"), or drive this cluster from a job step with Python {cluster.minor} "
            f"(actions/setup-python; pip install 'mlci[ray]' 'ray[client]=={cluster.ray}'; "
            "mlci run)",
        )
    if problems:
        raise InputError(
            f"the Ray cluster at {address.source} does not match this mlci: " + "; ".join(problems),
            hint=f"run mlci with Python {cluster.minor} and ray=={cluster.ray} (pip install "
            f"'mlci[ray]' 'ray[client]=={cluster.ray}'), or point {address.source} at a cluster "
            f"of Ray {client.ray} on Python {client.minor}",
        )


def connect(
    address: Address, settings: Ray, job_env: Mapping[str, Any], in_action: bool = False
) -> Versions:
    """Probe, connect through Ray Client with the connection's runtime environment
    (``job_env``), check the versions; the cluster's versions. Ray's own version check is off: :func:`check_versions`
    gives the message instead."""
    probe(address, settings.connect_timeout)
    import ray
    import ray.util
    from ray.job_config import JobConfig

    if ray.is_initialized():
        ray.shutdown()
    try:
        info = ray.util.connect(
            address.client,
            connection_retries=1,
            ignore_version=True,
            job_config=JobConfig(runtime_env=dict(job_env)),  # uploads the local folders
            ray_init_kwargs={"logging_level": "WARNING"},
        )
    except ConnectionError as exc:
        raise InputError(
            f"could not connect to the Ray cluster at {address.source}: {exc}",
            hint="the port answers but Ray Client does not: is it the client port (10001)?",
        ) from None
    cluster = Versions.of(info or {})
    try:
        check_versions(Versions.here(), cluster, address, in_action)
    except InputError:
        ray.shutdown()
        raise
    return cluster
