"""Model tests: the project's pytest suite, given the trained models through fixtures."""

from __future__ import annotations

import json
from dataclasses import replace

from mlci_action.errors import StageFailure
from mlci_action.executors.tasks import ModelTests as ModelTestsRequest
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import ModelTest, ModelTestsReport, Status


class ModelTestsStage:
    name = "model_tests"
    needs: tuple[str, ...] = ("train",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        side, base = state.candidate, state.baseline
        settings = side.config.model_tests
        if settings is None:
            return StageOutput(state, Status.SKIPPED, "no model_tests in mlci.yaml")
        if side.runtime is None or side.model is None:
            raise StageFailure("no trained candidate model")
        results = ctx.workdir / "model-tests.json"
        results.unlink(missing_ok=True)
        data = side.config.data
        log = ctx.log_path("model-tests")
        outcome = side.runtime.call(
            ModelTestsRequest(
                project_dir=str(side.project),
                path=settings.path,
                args=settings.args,
                model=str(side.model),
                baseline_model=str(base.model) if base and base.model and not base.error else None,
                train_path=str((side.project / data.train).resolve()),
                test_path=str((side.project / data.test).resolve()),
                target=data.target,
                task=side.config.evaluation.task,
                seed=side.config.training.seed,
                trusted_types=side.config.evaluation.trusted_types,
                results_path=str(results),
            ),
            cwd=side.project,
            lane="project",  # the project's tests never share a process with the scoring
            log=log,
            timeout=settings.timeout,
        )
        tail = (
            "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
            if log.is_file()
            else ""
        )
        if not results.is_file():
            raise StageFailure(
                f"pytest exited with code {outcome['exitstatus']} before running tests",
                log_tail=tail,
            )
        payload = json.loads(results.read_text(encoding="utf-8"))
        tests = [ModelTest.model_validate(t) for t in payload["tests"]]
        report = ModelTestsReport(
            passed=sum(t.outcome == "passed" for t in tests),
            failed=sum(t.outcome == "failed" for t in tests),
            skipped=sum(t.outcome == "skipped" for t in tests),
            errors=sum(t.outcome == "error" for t in tests),
            tests=tests,
        )
        state = replace(state, model_tests=report)
        if payload["exitstatus"] == 5 or not tests:
            return StageOutput(state, Status.FAILED, f"no tests collected in {settings.path}", tail)
        if not report.ok or payload["exitstatus"] not in (0,):
            reason = f"{report.failed} failed, {report.errors} errors, {report.passed} passed"
            if payload["exitstatus"] not in (0, 1):
                reason = f"pytest exit {payload['exitstatus']}: " + reason
            return StageOutput(state, Status.FAILED, reason, tail)
        return StageOutput(state, reason=f"{report.passed} passed, {report.skipped} skipped")
