"""A prepared environment on a Ray cluster: commands and worker tasks as Ray tasks.

Every task declares its files (:mod:`mlci_action.executors.tasks`). A host path ``/a/b`` is
``/tmp/mlci-ray/<run>/fs/a/b`` on the node (:func:`.node.node_path`): the project's copy (the
runtime environment's working directory) sits at the project's path there, and the data files
and declared inputs go as bytes through Ray's object store (each file put once per run and
content); declared outputs come back as bytes and are written here. Nothing assumes a shared
filesystem.

A task whose node or worker process is lost runs again, on any node, up to
``environment.ray.max_retries`` times; each placement (node, attempts) is kept for run.json.
Closing the runtime (the run ends, fails or is interrupted) cancels the tasks still running.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci_action import proc
from mlci_action.config import Config, Resources
from mlci_action.errors import StageFailure
from mlci_action.executors.base import Lane, unwrap
from mlci_action.executors.environ import THREADS
from mlci_action.executors.host import HostPool
from mlci_action.executors.ray_cluster import node
from mlci_action.executors.tasks import Command, Role, TaskRequest, TrainEstimator
from mlci_action.executors.transfer import walk
from mlci_action.globs import glob_folder
from mlci_action.record import ClusterTask, EnvironmentInfo

POLL_SECONDS = 0.5
"""How often a wait on a task looks up, so that an interrupt is handled promptly."""


def resource_options(resources: Resources | None) -> dict[str, Any]:
    """Ray task options for ``training.resources`` (other tasks: one CPU)."""
    if resources is None:
        return {"num_cpus": 1}
    options: dict[str, Any] = {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus}
    if resources.memory_bytes():
        options["memory"] = resources.memory_bytes()
    if resources.custom:
        options["resources"] = dict(resources.custom)
    return options


def task_threads(
    resources: Resources, env: Mapping[str, str], pass_env: list[str]
) -> dict[str, str]:
    """``env`` with the thread counts of the CPUs the task reserved on its node (the runner's
    split between two local trainings means nothing there); pass_env's choice is kept."""
    share = str(max(1, int(resources.num_cpus)))
    return {**env, **{name: share for name in THREADS if name in env and name not in pass_env}}


def lost(exc: BaseException) -> bool:
    """A node or worker lost, as opposed to the task's own failure."""
    import ray.exceptions as errors

    kinds = (errors.NodeDiedError, errors.WorkerCrashedError, errors.ObjectLostError)
    return isinstance(exc, kinds) or (
        isinstance(exc, errors.RayTaskError) and isinstance(exc.cause, kinds)
    )


class Session:
    """The process's one Ray Client connection, shared by the run's runtimes (the candidate's
    and the baseline's): closed when the last of them closes."""

    def __init__(self, working_dir: Path) -> None:
        self.working_dir = working_dir
        """The project uploaded as the connection's working directory."""
        self.users = 0
        self._lock = threading.Lock()

    def join(self) -> None:
        with self._lock:
            self.users += 1

    def leave(self) -> None:
        import ray

        with self._lock:
            self.users -= 1
            last = self.users <= 0
        if last and ray.is_initialized():
            ray.shutdown()


@dataclass
class RayRuntime:
    info: EnvironmentInfo
    config: Config
    session: Session
    env: dict[str, Any]
    """The tasks' runtime environment (:func:`.environment.task_env`)."""
    max_retries: int = 2
    """How often a task whose node or worker is lost runs again (environment.ray.max_retries)."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    python: str = "python"
    pass_env: dict[str, str] = field(default_factory=dict)
    placements: list[ClusterTask] = field(default_factory=list)
    _pending: set[Any] = field(default_factory=set)
    _puts: dict[tuple[Path, float, int], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _finished: bool = False

    def where(self, path: Path) -> str:
        return node.node_path(self.run_id, Path(path).resolve().as_posix())

    def with_hosts(self, hosts: HostPool) -> RayRuntime:
        return self  # no worker hosts here: each task is a Ray task

    def warm(self) -> None:
        """Nothing to start: the runtime environment was built when the runtime was prepared."""

    def tasks(self) -> tuple[ClusterTask, ...]:
        with self._lock:
            return tuple(self.placements)

    # -------------------------------------------------------------------- files

    def _put(self, path: Path) -> Any:
        import ray

        stat = path.stat()
        key = (path, stat.st_mtime, stat.st_size)
        with self._lock:
            ref = self._puts.get(key)
        if ref is None:
            ref = ray.put(path.read_bytes())
            with self._lock:
                self._puts[key] = ref
        return ref

    def _files(self, paths: list[Path]) -> dict[str, Any]:
        """node path -> object ref of the bytes, for each file (of each folder) in ``paths``."""
        shipped: dict[str, Any] = {}
        for path in paths:
            folder = glob_folder(path)  # a glob (a partitioned data.test): its matching files
            found = (
                walk(path)
                if path.is_dir()
                else folder.glob(path.relative_to(folder).as_posix())
                if folder != path
                else iter([path])
            )
            for item in found:
                if item.is_file() and not item.is_symlink():
                    shipped[self.where(item)] = self._put(item)
        return shipped

    def _data(self, project: Path, *, folders: bool = True) -> list[Path]:
        """The data files mlci.yaml names, which stay out of the working directory; a directory
        of partitions only with ``folders`` (the training command reads it whole; a worker
        task gets its partitions as declared inputs)."""
        data = self.config.data
        paths = (project / data.train, project / data.test)
        return [p for p in paths if p.is_file() or (folders and p.is_dir())]

    # -------------------------------------------------------------------- running

    def _submit(
        self,
        name: str,
        project: Path,
        spec: dict[str, Any],
        inputs: dict[str, Any],
        options: dict[str, Any],
        log: Path | None,
    ) -> dict[str, Any]:
        import ray
        import ray.exceptions as errors

        remote = ray.remote(node.run_task)
        shared = project.resolve() == self.session.working_dir.resolve()
        if not shared:  # another checkout (the baseline's): its files go as bytes
            inputs = {**self._files([project]), **inputs}
        attempts = 0
        notes: list[str] = []
        while True:
            attempts += 1
            if self._closed:
                raise StageFailure(f"{name}: the run was cancelled")
            ref = remote.options(
                name=f"mlci:{name}", runtime_env=self.env, max_retries=0, **options
            ).remote(
                {
                    **spec,
                    "project": self.where(project),
                    "from_working_dir": shared,
                    "run": self.run_id,
                },
                inputs,
            )
            try:
                outcome: dict[str, Any] = self._wait(ref)
                break
            except errors.RuntimeEnvSetupError as exc:
                raise StageFailure(
                    f"{name}: the project's runtime environment could not be built on the cluster",
                    log_tail=str(exc)[-4000:],
                    hint="check the requirements files in mlci.yaml (environment.requirements"
                    ", environment.lock): every package must install on the cluster's nodes",
                ) from None
            except errors.TaskCancelledError:
                raise StageFailure(f"{name}: cancelled on the cluster") from None
            except errors.RayError as exc:
                if lost(exc) and attempts <= self.max_retries:
                    notes.append(f"attempt {attempts} lost ({exc.__class__.__name__})")
                    continue
                raise StageFailure(
                    f"{name} failed on the cluster: {exc.__class__.__name__}"
                    + (f" after {attempts} attempts" if attempts > 1 else ""),
                    log_tail=str(exc)[-4000:],
                    hint="a lost node is retried environment.ray.max_retries times",
                ) from None
        record = ClusterTask(
            name=name,
            node_id=outcome["node_id"],
            pid=outcome["pid"],
            attempts=attempts,
            seconds=round(outcome["seconds"], 3),
            notes=notes,
        )
        with self._lock:
            self.placements.append(record)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            header = f"# ray: node {record.node_id[:12]}, pid {record.pid}, attempt {attempts}\n"
            log.write_text(header + outcome["log"], encoding="utf-8")
        for path, data in outcome["outputs"].items():
            self._receive(path, data)
        return outcome

    def _wait(self, ref: Any) -> Any:
        """The task's value, waiting in short steps (an interrupt cancels it: :meth:`close`)."""
        import ray

        with self._lock:
            self._pending.add(ref)
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=POLL_SECONDS)
                if ready:
                    return ray.get(ref)
        finally:
            with self._lock:
                self._pending.discard(ref)

    def _receive(self, node_file: str, data: bytes) -> None:
        prefix = node.node_path(self.run_id, "")
        local = Path(node_file.removeprefix(prefix))
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(f".{local.name}.{uuid.uuid4().hex[:8]}.part")
        partial.write_bytes(data)
        partial.replace(local)

    def run(self, command: Command) -> proc.ProcResult:
        """The project's training command, as one Ray task with ``training.resources``."""
        started = time.perf_counter()
        inputs = self._files([*self._data(command.cwd), *command.inputs])
        spec = {
            "argv": list(command.argv),
            "cwd": self.where(command.cwd),
            "env": {
                **self.pass_env,
                **task_threads(
                    self.config.training.resources,
                    command.env,
                    self.config.environment.pass_env,
                ),
            },
            "outputs": [self.where(p) for p in command.outputs],
            "timeout": command.timeout,
        }
        name = command.log.stem if command.log else "command"
        options = resource_options(self.config.training.resources)
        outcome = self._submit(name, command.cwd, spec, inputs, options, command.log)
        return proc.ProcResult(
            tuple(command.argv),
            int(outcome["returncode"]) if not outcome["timed_out"] else 124,
            outcome["log"],
            time.perf_counter() - started,
            bool(outcome["timed_out"]),
        )

    def call(
        self,
        request: TaskRequest,
        *,
        cwd: Path,
        lane: Lane = "scoring",
        log: Path | None = None,
        timeout: float | None = None,
    ) -> Any:
        """A worker task as a Ray task (training: with ``training.resources``). Each runs in a
        process of its own, so the project's code never shares one with the scoring."""
        if isinstance(request, TrainEstimator) and request.threads is not None:
            cpus = max(1, int(self.config.training.resources.num_cpus))
            request = request.model_copy(update={"threads": cpus})
        files = list(request.files())
        inputs_paths = [Path(v) for _, role, v in files if role is Role.INPUT]
        outputs = [self.where(Path(v)) for _, role, v in files if role is Role.OUTPUT]
        inputs = self._files(
            [*self._data(cwd, folders=False), *(p for p in inputs_paths if p != cwd)]
        )
        spec = {
            "task": request.kind,
            "request": request.translated(self.where),
            "cwd": self.where(cwd),
            "env": dict(self.pass_env),
            "outputs": outputs,
            "timeout": timeout,
        }
        training = request.kind == "train-estimator"
        options = resource_options(self.config.training.resources if training else None)
        name = log.stem if log else request.kind
        outcome = self._submit(name, cwd, spec, inputs, options, log)
        if outcome["timed_out"]:
            raise StageFailure(f"{request.kind} timed out after {timeout:.0f}s")
        payload = outcome["result"]
        if payload is None:
            raise StageFailure(
                f"the {request.kind} worker exited with code {outcome['returncode']} and no result",
                log_tail=outcome["log"][-4000:],
            )
        return unwrap(payload, outcome["log"][-4000:], log)

    def cancel(self) -> None:
        """Cancel the tasks still running (their processes end with them) and submit no more:
        the waits on them end, so the stages unwind."""
        import ray

        with self._lock:
            self._closed = True
            pending = list(self._pending)
        if ray.is_initialized():
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished, or the connection is gone
                    continue

    def close(self) -> None:
        """Cancel what still runs, remove this run's files from the nodes, disconnect."""
        import ray

        with self._lock:
            if self._finished:
                return
            self._finished = True
        self.cancel()
        if ray.is_initialized():
            self._clean()
        self.session.leave()

    def _clean(self) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        try:
            nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
            remote = ray.remote(node.clean)
            refs = [
                remote.options(
                    num_cpus=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False),
                ).remote(self.run_id)
                for n in nodes
            ]
            ray.wait(refs, num_returns=len(refs), timeout=30)
        except Exception:  # best effort: the files are in the node's temporary folder
            return
