"""The ``ray`` Executor: connect, build the project's runtime environment once, hand out a runtime."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from mlci_action.config import Config
from mlci_action.errors import InputError, StageFailure
from mlci_action.executors.base import check_environment_files
from mlci_action.executors.ray_cluster import node
from mlci_action.executors.ray_cluster.connection import Versions, connect, resolve
from mlci_action.executors.ray_cluster.environment import environment_digest, job_env, task_env
from mlci_action.executors.ray_cluster.runtime import RayRuntime, Session, passed_env
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

    def __init__(self, cache_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.cache_dir = cache_dir
        self.environ = os.environ if environ is None else environ
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
        version mismatch), then build the runtime environment with one small task, so a
        requirement that cannot be installed stops the run here, naming it."""
        check_environment_files(project, config.environment)
        address = resolve(config.environment.ray, self.environ)
        if self._session is None or self._cluster is None:  # the first side: connect
            self._cluster = connect(address, config.environment.ray, job_env(project, config))
            self._session = Session(project)
        cluster, session = self._cluster, self._session
        session.join()
        import ray
        import ray.exceptions as errors

        env = task_env(project, config)
        runtime = RayRuntime(
            info=EnvironmentInfo(
                key=self.key(project, config), python="?", executor=self.name, reused=False
            ),
            config=config,
            session=session,
            env=env,
            pass_env=passed_env(config, self.environ),
        )
        self._runtimes.append(runtime)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(
            f"Ray {cluster.ray}, Python {cluster.python} on the cluster ({address.source})\n",
            encoding="utf-8",
        )
        probe = ray.remote(node.probe).options(num_cpus=0, runtime_env=env, name="mlci:environment")
        try:
            found = runtime._wait(probe.remote(runtime.run_id))
        except errors.RuntimeEnvSetupError as exc:
            runtime.close()
            text = str(exc)
            with log.open("a", encoding="utf-8") as handle:
                handle.write(text)
            raise StageFailure(
                "the project's runtime environment could not be built on the Ray cluster",
                log_tail=text[-4000:],
                hint="every line of environment.requirements (and environment.lock) must "
                "install on the cluster's nodes; the end of pip's output is above",
            ) from None
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
            reused=False,
            packages=found["packages"],
        )
        return runtime
