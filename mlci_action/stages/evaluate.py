"""Evaluate: mlci scores the candidate and the baseline itself, on the same test data."""

from __future__ import annotations

from dataclasses import replace

from mlci_action.errors import StageFailure
from mlci_action.executors.tasks import Evaluate as EvaluateRequest
from mlci_action.layout import PREDICTIONS, SMOKE_CASES
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import Evaluation


class Evaluate:
    name = "evaluate"
    needs: tuple[str, ...] = ("train",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        side, base = state.candidate, state.baseline
        if side.runtime is None or side.model is None:
            raise StageFailure("no trained candidate model")
        config = side.config
        baseline_model = base.model if base is not None and base.error is None else None
        predictions = ctx.workdir / PREDICTIONS
        request = EvaluateRequest(
            test_path=str((side.project / config.data.test).resolve()),
            target=config.data.target,
            task=config.evaluation.task,
            metrics=list(config.evaluation.metric_names),
            bootstrap=config.evaluation.bootstrap.model_dump(),
            positive_class=config.evaluation.positive_class,
            candidate_model=str(side.model),
            baseline_model=str(baseline_model) if baseline_model else None,
            trusted_types=config.evaluation.trusted_types,
            predictions_path=str(predictions),
            smoke_path=str(ctx.workdir / SMOKE_CASES) if ctx.options.package else None,
            smoke_rows=ctx.config.deploy.smoke_rows,
            slices=list(config.evaluation.slices),
        )
        log = ctx.log_path("evaluate")
        try:
            result = side.runtime.call(request, cwd=side.project, log=log)
        except StageFailure as exc:
            if baseline_model is None or base is None:
                raise
            # the baseline may not fit the candidate's test data (columns changed, say):
            # score the candidate alone and say why there is no comparison
            alone = request.model_copy(update={"baseline_model": None})
            result = side.runtime.call(alone, cwd=side.project, log=log)
            state = replace(state, baseline=replace(base, error=f"cannot be scored: {exc.message}"))
        evaluation = Evaluation.model_validate(result)
        parts = [
            f"{name} {m.candidate:.4g}"
            for name, m in evaluation.metrics.items()
            if m.candidate is not None
        ]
        return StageOutput(
            replace(state, evaluation=evaluation),
            reason=f"{evaluation.rows} rows: " + ", ".join(parts),
        )
