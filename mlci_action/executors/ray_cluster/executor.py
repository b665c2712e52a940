"""The ``ray`` Executor: connect, build the project's runtime environment once, hand out a runtime."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from mlci_action.config import Config
from mlci_action.errors import InputError, StageFailure
from mlci_action.executors.base import check_environment_files
from mlci_action.executors.ray_cluster import node
from mlci_action.executors.ray_cluster.connection import ClusterSettings, Versions, connect
from mlci_action.executors.ray_cluster.environment import (
    environment_digest,
    job_env,
    on_every_node,
    requirement_lines,
    task_env,
)
from mlci_action.executors.ray_cluster.runtime import RayRuntime, Session
from mlci_action.record import EnvironmentInfo


def _cancel_on_signals(runtimes: list[RayRuntime]) -> None:
    """SIGTERM (a cancelled CI job) and SIGINT (Ctrl-C): cancel the run's Ray tasks first (the
    stages waiting on them, in other threads, then end), then interrupt the run as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        for runtime in list(runtimes):
            runtime.cancel()
        raise KeyboardInterrupt

    for number, default in (
        (signal.SIGTERM, signal.SIG_DFL),
        (signal.SIGINT, signal.default_int_handler),
    ):
        if signal.getsignal(number) is default:
            signal.signal(number, interrupt)


class RayExecutor:
    name = "ray"

    def __init__(self, cache_dir: Path, settings: ClusterSettings | None = None) -> None:
        """``settings``: read at the run's start (:func:`.connection.settings`), by
        :func:`mlci_action.executors.create`."""
        self.cache_dir = cache_dir
        self.settings = settings
        self._session: Session | None = None
        self._cluster: Versions | None = None
        self._runtimes: list[RayRuntime] = []
        _cancel_on_signals(self._runtimes)  # made in the main thread; the stages run in others

    def key(self, project: Path, config: Config) -> str:
        return f"ray-{environment_digest(project, config)}"

    def prepare_image(self, image: str, log: Path, config: Config) -> None:
        return None  # no images on the cluster: the champion is scored in the project's env

    def prepare(self, project: Path, config: Config, log: Path) -> RayRuntime:
        """Connect (exit 2 within environment.ray.connect_timeout when nobody answers, or on a
        version mismatch), ask every node what its Python lacks, and, only when one lacks
        something, build a pip runtime environment with one small task, so a requirement that
        cannot be installed stops the run here, naming it."""
        check_environment_files(project, config.environment)
        if self.settings is None:
            raise RuntimeError("RayExecutor made without its settings: use executors.create")
        settings = self.settings
        address = settings.address
        if self._session is None or self._cluster is None:  # the first side: connect
            self._cluster = connect(
                address,
                settings.ray,
                job_env(project, config, settings.ray),
                in_action=settings.in_action,
            )
            self._session = Session(project)
        cluster, session = self._cluster, self._session
        session.join()

        runtime = RayRuntime(
            info=EnvironmentInfo(
                key=self.key(project, config), python="?", executor=self.name, reused=False
            ),
            config=config,
            session=session,
            env={},
            max_retries=settings.ray.max_retries,
            pass_env=dict(settings.pass_env),
        )
        self._runtimes.append(runtime)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(
            f"Ray {cluster.ray}, Python {cluster.python} on the cluster ({address.source})\n",
            encoding="utf-8",
        )
        try:
            found, missing = self._build(runtime, requirement_lines(project, config), log)
        except BaseException:
            runtime.close()
            raise
        if found["python"].split(".")[:2] != cluster.python.split(".")[:2]:
            runtime.close()
            raise InputError(
                f"the runtime environment runs Python {found['python']}, mlci runs "
                f"{cluster.python}",
                hint="environment.python must match the cluster's Python for the ray executor",
            )
        runtime.info = EnvironmentInfo(
            key=runtime.info.key,
            python=found["python"],
            executor=self.name,
            reused=not missing,
            packages=found["packages"],
        )
        return runtime

    def _build(
        self, runtime: RayRuntime, lines: list[str], log: Path
    ) -> tuple[dict[str, Any], list[str]]:
        """Ask every node what its Python lacks; when nothing, the tasks run in it as is, else
        in a pip environment of ``lines``, built now by one small task. What the tasks' Python
        holds, and the lines some node lacked."""
        import ray
        import ray.exceptions as errors

        try:
            nodes = on_every_node(runtime.run_id, lines)
        except errors.RayError as exc:
            raise StageFailure(
                "could not ask the Ray cluster's nodes which requirements they have: "
                f"{exc.__class__.__name__}",
                log_tail=str(exc)[-4000:],
                hint="the cluster answered the connection but not a task: are its nodes up?",
            ) from None
        missing = [line for line in lines if any(line in found["lacking"] for found in nodes)]
        runtime.env = task_env(missing, lines)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(
                f"not installed on every node: {', '.join(missing)}; a pip environment on each\n"
                if missing
                else "every requirement is installed on every node: the nodes' Python as is\n"
            )
        if not missing:
            return nodes[0], missing
        probe = ray.remote(node.probe).options(
            num_cpus=0, runtime_env=runtime.env, name="mlci:environment"
        )
        try:
            return runtime._wait(probe.remote(runtime.run_id)), missing
        except errors.RuntimeEnvSetupError as exc:
            text = str(exc)
            with log.open("a", encoding="utf-8") as handle:
                handle.write(text)
            raise StageFailure(
                "the project's runtime environment could not be built on the Ray cluster",
                log_tail=text[-4000:],
                hint="every line of environment.requirements (and environment.lock) must "
                "install on the cluster's nodes; the end of pip's output is above",
            ) from None
