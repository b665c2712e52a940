"""Data tests: the project's pandera schema plus leakage, target and drift checks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mlci_action.config import Data
from mlci_action.dataset import is_partitioned, is_url
from mlci_action.errors import StageFailure
from mlci_action.executors.tasks import DataTests as DataTestsRequest
from mlci_action.globs import split_glob
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import DataReport, Status


def schema_spec(data: Data) -> dict[str, str] | None:
    if data.schema_ is None:
        return None
    path, _, name = data.schema_.partition(":")
    if path.endswith(".py"):
        return {"kind": "python", "path": path, "name": name}
    return {"kind": "yaml", "path": path}


@dataclass(frozen=True)
class BaselineTrain:
    """The baseline's data.train as the data-tests request carries it: a file or directory
    of its checkout (copied to where the task runs), a glob below one, or a URL."""

    path: str | None = None
    glob: str = ""
    url: str | None = None

    @classmethod
    def of(cls, project: Path, spec: str) -> BaselineTrain:
        if is_url(spec):  # the base branch's own setting, read where it points
            return cls(url=spec)
        root, glob = split_glob(spec)
        found = project.resolve() / root
        if glob:
            return cls(found.as_posix(), glob) if found.is_dir() else cls()
        return cls(found.as_posix()) if found.exists() else cls()


class DataTests:
    name = "data_tests"
    needs: tuple[str, ...] = ("environment",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        side = state.candidate
        if side.runtime is None:
            raise StageFailure("no environment was prepared")
        data = side.config.data
        baseline_train, baseline_partitioned = BaselineTrain(), False
        base = state.baseline
        if base is not None and base.project.is_absolute():
            baseline_partitioned = is_partitioned(base.project, base.config.data.train)
            baseline_train = BaselineTrain.of(base.project, base.config.data.train)
        # a partitioned baseline takes the partitioned path too (its drift is merged there)
        partitioned = baseline_partitioned or any(
            is_partitioned(side.project, s) for s in (data.train, data.test)
        )
        request = DataTestsRequest(
            project_dir=str(side.project.resolve()),
            train_path=data.train,
            test_path=data.test,
            target=data.target,
            task=side.config.evaluation.task,
            schema_spec=schema_spec(data),
            checks=data.checks.model_dump(mode="json"),
            baseline_train_path=baseline_train.path,
            baseline_train_glob=baseline_train.glob,
            baseline_train_url=baseline_train.url,
            partitioned=partitioned,
        )
        log = ctx.log_path("data-tests")
        if partitioned and side.runtime.info.executor == "ray":  # a task per partition
            # merged here, with numpy: imported only on this path (the action image has none)
            from mlci_action.partitioned import data_tests as partitioned_data_tests

            report = partitioned_data_tests(side.runtime, request)
        else:
            # a Python schema is the project's code: never in the process that scores the models
            result = side.runtime.call(request, cwd=side.project, lane="project", log=log)
            report = DataReport.model_validate(result)
        state = replace(state, data=report)
        failed = report.failed_checks
        if failed:
            names = ", ".join(dict.fromkeys(f"{c.name} ({c.dataset})" for c in failed))
            return StageOutput(state, Status.FAILED, f"{report.tally}; failed: {names}")
        return StageOutput(state, reason=report.tally)
