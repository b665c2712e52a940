"""A partitioned test set scored on the cluster: one Ray actor task per partition.

Scorer actors (:class:`~mlci_action.partition_checkers.Actors`: one CPU each, as many as the
cluster has CPUs, at most one per partition) run in the project's runtime environment; each
loads the two models once, from their bytes put once in the object store, and then scores the
partitions it is handed, one at a time, giving back only the models' answers
(:class:`mlci_action.worker.evaluate.Answers`, a few bytes a row; never the features but the
first partition's smoke-case rows). A local partition's bytes go through the object store
(each file put once); a URL's partition is read by its actor.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlci_action.errors import InputError, StageFailure
from mlci_action.executors.ray_cluster.runtime import RayRuntime
from mlci_action.executors.tasks import ScorePartition
from mlci_action.partition_checkers import Actors


class Scorer:
    """The actor (made with ``ray.remote`` on the cluster)."""

    def __init__(self) -> None:
        self._models: dict[str, tuple[object, object | None]] = {}

    def score(
        self, request: dict[str, Any], data: bytes | None, models: list[Any]
    ) -> tuple[Any, dict[str, Any]] | dict[str, str]:
        """The partition's answers (None: no rows), and where and how long it ran;
        ``models``: [the object ref of the (candidate, baseline) model bytes]."""
        import os
        import time

        import ray

        from mlci_action.errors import InputError, MlciError
        from mlci_action.worker.partition_scores import read_part, score_part

        started = time.perf_counter()
        asked = ScorePartition.model_validate(request)
        try:
            loaded = self._loaded(models[0], asked.evaluate)
            frame = read_part(asked.part_name, asked.part_url, data)
            answers = score_part(asked.evaluate, loaded, frame, asked.part_name, first=asked.first)
        except MlciError as exc:  # the project's input or model: its message comes back as is
            kind = "input" if isinstance(exc, InputError) or exc.exit_code == 2 else "failure"
            return {"kind": kind, "message": exc.message, "hint": exc.hint or ""}
        placed = {
            "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        return answers, placed

    def _loaded(self, ref: Any, request: dict[str, Any]) -> tuple[object, object | None]:
        """The two models, loaded (and checked, as every model file is) once per actor."""
        key = ref.hex()
        if key not in self._models:
            import tempfile

            import ray

            from mlci_action.worker.modelio import load_model

            candidate, baseline = ray.get(ref)
            trusted = list(request.get("trusted_types") or [])
            with tempfile.TemporaryDirectory() as folder:
                loaded: list[object | None] = []
                for role, data in (("candidate", candidate), ("baseline", baseline)):
                    if data is None:
                        loaded.append(None)
                        continue
                    path = Path(folder) / f"{role}.skops"
                    path.write_bytes(data)
                    loaded.append(load_model(path, trusted))
            self._models = {key: (loaded[0], loaded[1])}
        return self._models[key]


class Scorers(Actors):
    """The run's scorer actors, for one evaluate stage."""

    what = "the scoring"

    def __init__(self, runtime: RayRuntime, partitions: int) -> None:
        super().__init__(runtime, Scorer, partitions)

    def run(
        self,
        requests: Sequence[tuple[ScorePartition, Path | None]],
        models: tuple[Path, Path | None],
    ) -> list[Any]:
        """Each partition's answers (None: no rows), in the requests' order."""
        import ray

        shared = ray.put(tuple(None if path is None else path.read_bytes() for path in models))
        found = []
        for request, outcome in self.results(
            requests,
            lambda actor, request, data: actor.score.remote(
                request.model_dump(mode="json"), data, [shared]
            ),
        ):
            if isinstance(outcome, dict):
                error = InputError if outcome["kind"] == "input" else StageFailure
                raise error(outcome["message"], hint=outcome["hint"] or None)
            answers, placed = outcome
            found.append(answers)
            self.placed(f"evaluate {request.part_name}", placed)
        return found
