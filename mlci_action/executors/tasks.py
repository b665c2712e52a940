"""The typed contract between the stages and the code that runs in the project's environment.

Two kinds of work cross the executor boundary: a :class:`Command` (the project's training
command) and a worker task (one of the :class:`TaskRequest` models below, run by
``python -m mlci_action.worker``). Both declare their files: the paths a task reads are
annotated :data:`In`, the paths it writes :data:`Out`, so an executor that runs elsewhere (a
container) copies in exactly the inputs and copies back exactly the outputs, and translates
each path to where the task sees it. Nothing is guessed from strings that look like paths.

The worker imports these models too: a request is validated on both sides of the boundary.
This module must stay importable in the project's environment (pydantic only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict


class Role(Enum):
    INPUT = "in"
    OUTPUT = "out"


In = Annotated[str, Role.INPUT]
"""A file or directory the task reads (copied in before it runs)."""
Out = Annotated[str, Role.OUTPUT]
"""A file the task writes (copied back after it ran; only this file)."""


class TaskRequest(BaseModel):
    """One worker task's request. Subclasses set ``kind`` (the task's name) and annotate their paths."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[str]

    def files(self) -> Iterator[tuple[str, Role, str]]:
        """(field, role, path) of every declared file that is set."""
        for name, info in type(self).model_fields.items():
            role = _role(info.annotation, info.metadata)
            value = getattr(self, name)
            if role is not None and value:
                yield name, role, value

    def translated(self, where: Callable[[Path], str]) -> dict[str, Any]:
        """The request as JSON, each declared path replaced by ``where(path)``."""
        data = self.model_dump(mode="json")
        for name, _, value in self.files():
            data[name] = where(Path(value))
        return data


def _role(annotation: Any, metadata: list[Any]) -> Role | None:
    for item in metadata:
        if isinstance(item, Role):
            return item
    for arg in get_args(annotation):  # Optional[In]: the role sits inside the union
        if get_origin(arg) is Annotated:
            found = next((m for m in arg.__metadata__ if isinstance(m, Role)), None)
            if found is not None:
                return found
    return None


class TrainEstimator(TaskRequest):
    kind: ClassVar[str] = "train-estimator"
    train_path: In
    target: str
    estimator: str
    preprocess: Literal["auto", "none"] = "auto"
    params: dict[str, Any] = {}
    seed: int = 42
    model_path: Out
    threads: int | None = None
    """At most this many threads for the fit (the other side trains at the same time)."""


class DataTests(TaskRequest):
    kind: ClassVar[str] = "data-tests"
    project_dir: In
    """The project (the schema file is read from it; the data paths are inside it)."""
    train_path: str
    test_path: str
    target: str
    task: Literal["classification", "regression"]
    schema_spec: dict[str, str] | None = None
    checks: dict[str, Any] = {}
    baseline_train_path: In | None = None
    """The baseline's training data: a file, or a directory of Parquet partitions."""
    baseline_train_glob: str = ""
    """A glob below baseline_train_path (the baseline's data.train is a glob)."""
    baseline_train_url: str | None = None
    """The baseline's data.train as a URL, read where it points (instead of the path)."""
    partitioned: bool = False
    """train_path / test_path name Parquet partitions (a directory, glob or URL), checked one
    at a time (mlci_action.worker.checks.partitioned_run)."""


class DataPartition(BaseModel):
    """The data tests' share of one partition (the ``ray`` executor: one checker-actor call
    each, mlci_action.partition_checkers)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    part_name: str
    part_url: str | None = None
    """A partition the task reads itself (file://, s3://, gs://); else its bytes travel."""
    dataset: Literal["train", "test", "baseline"]
    """baseline: a partition of the baseline's training data (drift tallies only)."""
    target: str
    schema_spec: dict[str, str] | None = None
    key_columns: list[str] | None = None
    """The row keys' columns (leakage enabled), and those hashed as text."""
    key_text: list[str] = []
    tally_plan: dict[str, Any] | None = None
    """What the partition tallies for the whole-data-set checks
    (mlci_action.worker.checks.tally.TallyPlan as JSON)."""


class ScorePartition(BaseModel):
    """The scoring's share of one test partition (the ``ray`` executor: one scorer-actor call
    each, mlci_action.partition_scorers): the evaluate request, and the partition."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    evaluate: dict[str, Any]
    """The Evaluate request (its model paths unused: the models travel as bytes)."""
    part_name: str
    part_url: str | None = None
    """A partition the task reads itself (file://, s3://, gs://); else its bytes travel."""
    first: bool = False
    """The first partition: it keeps its first rows' features for the smoke cases."""


class Bootstrap(BaseModel):
    """evaluation.bootstrap as configured (resamples 0: no intervals)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    resamples: int = 0
    confidence: float = 0.95
    seed: int = 0
    method: Literal["auto", "multinomial", "poisson"] = "auto"


class Evaluate(TaskRequest):
    kind: ClassVar[str] = "evaluate"
    test_path: In
    target: str
    task: Literal["classification", "regression"]
    metrics: list[str]
    bootstrap: Bootstrap = Bootstrap()
    positive_class: str | int | float | bool | None = None
    """evaluation.positive_class as configured (the worker resolves it against the classes)."""
    candidate_model: In
    baseline_model: In | None = None
    trusted_types: list[str] = []
    predictions_path: Out | None = None
    smoke_path: Out | None = None
    smoke_rows: int = 1000
    slices: list[str] = []
    """evaluation.slices as configured (checked by mlci_action.slices.parse_slice)."""
    partitioned: bool = False
    """test_path names Parquet partitions (a directory or glob), scored one at a time and
    merged (mlci_action.worker.partition_scores)."""


class ModelTests(TaskRequest):
    kind: ClassVar[str] = "model-tests"
    project_dir: In
    path: str
    """The tests, relative to the project."""
    args: list[str] = []
    model: In
    baseline_model: In | None = None
    train_path: In
    test_path: In
    target: str
    task: Literal["classification", "regression"]
    seed: int = 42
    trusted_types: list[str] = []
    results_path: Out


class ReferenceProfile(TaskRequest):
    """The reference profile (mlci_action.monitoring.profile) stored in the serving image."""

    kind: ClassVar[str] = "reference-profile"
    train_path: In
    test_path: In
    target: str
    task: Literal["classification", "regression"]
    model: In
    trusted_types: list[str] = []
    metrics: list[str]
    positive_class: str | int | float | bool | None = None
    bootstrap: Bootstrap = Bootstrap()
    """The metrics' intervals (at most REFERENCE_RESAMPLES resamples)."""
    profile_path: Out


TASKS: dict[str, type[TaskRequest]] = {
    model.kind: model
    for model in (TrainEstimator, DataTests, Evaluate, ModelTests, ReferenceProfile)
}


@dataclass(frozen=True)
class Command:
    """The project's own command (training): argv, where, its variables, its files.

    ``argv`` and ``env`` are built with the runtime's :meth:`where` for every path they
    mention, so they are already right for the place the command runs."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[Path, ...] = ()
    outputs: tuple[Path, ...] = ()
    timeout: float | None = None
    log: Path | None = None
