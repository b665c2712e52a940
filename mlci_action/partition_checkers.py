"""A partitioned data set's data tests on the cluster: one Ray actor task per partition
(and :class:`Actors`, the pool the scorers of :mod:`mlci_action.partition_scorers` share).

Checker actors (one CPU each, as many as the cluster has CPUs, at most one per partition) run
in the project's runtime environment with the project as working directory; each imports
pandas and pandera once and then checks the partitions it is handed, one at a time. They run
nothing else: the project's schema code never shares a process with the scoring, and the
actors are ended when the data tests end. A local partition's bytes go through the object
store (each file put once); a URL's partition is read by its actor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlci_action.errors import InputError, StageFailure
from mlci_action.executors.ray_cluster.runtime import RayRuntime
from mlci_action.executors.tasks import DataPartition
from mlci_action.record import ClusterTask
from mlci_action.worker.checks.partitioned import PartOutcome

MAX_ACTORS = 16


class Checker:
    """The actor (made with ``ray.remote`` on the cluster)."""

    def check(
        self, request: dict[str, Any], data: bytes | None, train_keys: np.ndarray | None
    ) -> (
        tuple[dict[str, Any], np.ndarray | None, np.ndarray | None, dict[str, Any]] | dict[str, str]
    ):
        """The outcome, the training keys, the duplicates' row keys (None when they are the
        training keys), and where and how long it ran."""
        import os
        import time

        import ray

        from mlci_action.errors import MlciError
        from mlci_action.worker.checks.partition_task import check

        started = time.perf_counter()
        try:
            outcome = check(DataPartition.model_validate(request), data, train_keys)
        except MlciError as exc:  # the project's input: its message comes back as is
            return {"message": exc.message, "hint": exc.hint or ""}
        placed = {
            "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        row_keys = None if outcome.row_keys is outcome.keys else outcome.row_keys
        return outcome.to_json(), outcome.keys, row_keys, placed


class Actors:
    """A run's actors of one kind (one CPU each, as many as the cluster has CPUs, at most one
    per partition, at most :data:`MAX_ACTORS`), handed partitions in turn; ended by
    :meth:`close`."""

    what = "the task"

    def __init__(self, runtime: RayRuntime, kind: type, partitions: int) -> None:
        import ray

        self.runtime = runtime
        cpus = int(ray.cluster_resources().get("CPU", 1))
        actor: Any = ray.remote(kind).options(
            num_cpus=1,
            runtime_env=runtime.env,
            max_restarts=runtime.max_retries,
            max_task_retries=runtime.max_retries,
        )
        count = max(1, min(cpus, partitions, MAX_ACTORS))
        self.actors: list[Any] = [actor.remote() for _ in range(count)]
        self._next = 0

    def next_actor(self) -> Any:
        actor = self.actors[self._next % len(self.actors)]
        self._next += 1
        return actor

    def results(
        self, requests: Sequence[tuple[Any, Path | None]], submit: Callable[[Any, Any, Any], Any]
    ) -> Iterator[tuple[Any, Any]]:
        """``(request, result)`` for each request in order; ``submit(actor, request, data)``
        starts its task. At most two tasks per actor are in flight, and a local partition's
        bytes are put in the object store just before its task and dropped with its result, so
        the cluster and the runner hold a few partitions at a time, never the data set."""
        import ray

        window = 2 * len(self.actors)
        pending: deque[tuple[Any, Any]] = deque()
        for request, local in requests:
            data = ray.put(local.read_bytes()) if local is not None else None
            pending.append((request, submit(self.next_actor(), request, data)))
            del data
            if len(pending) >= window:
                done, ref = pending.popleft()
                yield done, self._get(done.part_name, ref)
        while pending:
            done, ref = pending.popleft()
            yield done, self._get(done.part_name, ref)

    def placed(self, name: str, placed: dict[str, Any]) -> None:
        with self.runtime._lock:  # run.json's cluster tasks
            self.runtime.placements.append(ClusterTask(name=name, **placed))

    def _get(self, name: str, ref: Any) -> Any:
        import ray.exceptions as errors

        try:
            return self.runtime._wait(ref)
        except errors.RayError as exc:
            raise StageFailure(
                f"{self.what} of {name} failed on the cluster: {exc.__class__.__name__}",
                log_tail=str(exc)[-4000:],
                hint="a lost node is retried environment.ray.max_retries times",
            ) from None

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)


class Checkers(Actors):
    """The run's checker actors, for one data-tests stage."""

    what = "the data tests"

    def __init__(self, runtime: RayRuntime, partitions: int) -> None:
        super().__init__(runtime, Checker, partitions)

    def run(
        self,
        requests: Sequence[tuple[DataPartition, Path | None]],
        train_keys: np.ndarray | None = None,
    ) -> list[PartOutcome]:
        """Each (request, local file or None) checked, the outcomes in the requests' order."""
        import ray

        keys_ref = ray.put(train_keys) if train_keys is not None else None
        outcomes = []
        for request, found in self.results(
            requests,
            lambda actor, request, data: actor.check.remote(
                request.model_dump(mode="json"), data, keys_ref
            ),
        ):
            if isinstance(found, dict):
                raise InputError(found["message"], hint=found["hint"] or None)
            result, keys, row_keys, placed = found
            outcomes.append(PartOutcome.from_json(result, keys, row_keys))
            self.placed(f"data-tests {request.part_name}", placed)
        return outcomes
