"""The stage graph: order, parallel stages, skips that propagate, not-configured stages."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from mlci_action.errors import StageFailure
from mlci_action.pipeline import Options, RunContext, RunState, Side, StageOutput, run_stages
from mlci_action.record import Source, StageResult, Status


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()

    def stage_started(self, name: str) -> None:
        with self.lock:
            self.events.append(f"start {name}")

    def stage_finished(self, name: str, result: StageResult) -> None:
        with self.lock:
            self.events.append(f"{result.status} {name}")

    def note(self, text: str) -> None:
        pass


@dataclass
class Step:
    name: str
    needs: tuple[str, ...] = ()
    outcome: str = "pass"
    barrier: threading.Barrier | None = None

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        if self.barrier is not None:
            self.barrier.wait(timeout=10)  # proves two stages run at the same time
        if self.outcome == "raise":
            raise StageFailure(f"{self.name} broke", log_tail="tail")
        if self.outcome == "skip":
            return StageOutput(state, Status.SKIPPED, "not configured")
        return StageOutput(replace(state, gates=(*state.gates,)))


def run(steps, tmp_path: Path):
    with ExitStack() as stack:
        ctx = RunContext(
            options=Options(project=tmp_path, out=tmp_path, cache_dir=tmp_path),
            config=None,  # type: ignore[arg-type]
            executor=None,  # type: ignore[arg-type]
            progress=Recorder(),
            workdir=tmp_path,
            stack=stack,
        )
        side = Side(source=Source(role="candidate", ref="x"), project=tmp_path, config=None)  # type: ignore[arg-type]
        state = RunState(candidate=side, stages={"source": StageResult(status=Status.PASSED)})
        return run_stages(ctx, state, steps), ctx.progress


def test_a_failure_skips_everything_downstream_transitively(tmp_path):
    state, _ = run(
        [
            Step("env", ("source",)),
            Step("train", ("env",), outcome="raise"),
            Step("evaluate", ("train",)),
            Step("gates", ("evaluate",)),
            Step("data", ("env",)),
        ],
        tmp_path,
    )
    status = {name: result.status for name, result in state.stages.items()}
    assert status == {
        "source": "passed",
        "env": "passed",
        "train": "failed",
        "evaluate": "skipped",
        "gates": "skipped",
        "data": "passed",
    }
    assert (
        state.stages["train"].reason == "train broke" and state.stages["train"].log_tail == "tail"
    )
    assert state.stages["gates"].reason == "needs evaluate, which did not pass"
    assert state.errored == ("train",)


def test_a_stage_that_is_not_configured_blocks_nothing(tmp_path):
    state, _ = run(
        [Step("tests", ("source",), outcome="skip"), Step("deploy", ("tests",))], tmp_path
    )
    assert state.stages["tests"].status == "skipped" and state.stages["deploy"].status == "passed"


def test_independent_stages_run_in_parallel(tmp_path):
    barrier = threading.Barrier(2)
    state, progress = run(
        [Step("train", ("source",), barrier=barrier), Step("data", ("source",), barrier=barrier)],
        tmp_path,
    )
    assert {state.stages["train"].status, state.stages["data"].status} == {"passed"}
    assert progress.events[:2] == ["start train", "start data"]
