"""Gates: absolute bounds and limits against the baseline (MLflow MetricThreshold semantics)."""

from __future__ import annotations

import math
from dataclasses import replace

from mlci_action.config import Gate
from mlci_action.errors import StageFailure
from mlci_action.gate_family import Key, holm_verdict, significance_family, with_adjusted
from mlci_action.gate_rules import (
    Judgement,
    fmt,
    improvement_interval,
    judge_limit,
    resolution_warning,
)
from mlci_action.metrics import CATALOG
from mlci_action.pipeline import RunContext, RunState, StageOutput
from mlci_action.record import GateResult, MetricResult, SliceResult, Status
from mlci_action.stats.holm import holm


def check_gate(
    metric: str,
    gate: Gate,
    result: MetricResult,
    missing: str | None = None,
    significant: bool | None = None,
) -> GateResult:
    """Every rule of ``gate`` against ``result``; the reason lists each rule and its outcome.

    ``missing`` says why a baseline that was expected has no value (it fails the comparison
    rules unless ``without_baseline: pass``); None where no baseline was asked for or where
    nothing exists there yet (a first model). ``significant``: the Holm-adjusted verdict on
    the change, when several gates judge significance (None: the metric's own)."""
    better = (
        gate.greater_is_better
        if gate.greater_is_better is not None
        else CATALOG[metric].greater_is_better
    )
    cand, base = result.candidate, result.baseline
    if cand is None or math.isnan(cand):
        return GateResult(
            name=metric, metric=metric, passed=False, reason="no candidate value", rule=gate.rule
        )
    problems: list[tuple[str, str]] = []  # (rule, text)
    checks: list[str] = []
    warnings: list[str] = []
    if gate.threshold is not None:
        ok = cand >= gate.threshold if better else cand <= gate.threshold
        text = f"{fmt(cand)} {'≥' if better else '≤'} {fmt(gate.threshold)}"
        if ok:
            checks.append(text)
        else:
            problems.append(("threshold", f"{fmt(cand)} is not {text.split(' ', 1)[1]}"))
    wanted = _limits(gate)
    if wanted or gate.require_significant:
        if base is None and missing is not None and gate.without_baseline == "fail":
            problems.append(
                (
                    "without_baseline",
                    f"no baseline to compare with ({missing}): the comparison rules cannot "
                    f"pass (gates.{metric}.without_baseline: pass allows it)",
                )
            )
        elif base is None:
            checks.append(
                "no baseline: comparisons not checked"
                + (" (without_baseline: pass)" if missing is not None else "")
            )
        else:
            improvement = (cand - base) if better else (base - cand)
            interval = improvement_interval(result, better)
            for name, bound, relative in wanted:
                found = _judge_one(
                    name, gate, bound, relative, improvement, base, interval, significant
                )
                if found.passed:
                    checks.append(found.text)
                else:
                    problems.append((name, found.text))
                if bound < 0 and not relative:
                    warn = resolution_warning(metric, -bound, result.mde, "a regression")
                    warnings += [warn] if warn else []
                if name == "min_absolute_change" and bound > 0:
                    warn = resolution_warning(metric, bound, result.mde, "an improvement")
                    warnings += [warn] if warn else []
            if gate.require_significant:
                judged = _significance(result, better, significant)
                if judged.passed:
                    checks.append(judged.text)
                else:
                    problems.append(("require_significant", judged.text))
    common = {"rule": gate.rule, "mde": result.mde, "warnings": warnings}
    if problems:
        return GateResult(
            name=metric,
            metric=metric,
            passed=False,
            reason="; ".join(text for _, text in problems),
            decided_by=problems[0][0],
            **common,
        )
    return GateResult(
        name=metric,
        metric=metric,
        passed=True,
        reason="; ".join(checks) or "no rules",
        **common,
    )


def _limits(gate: Gate) -> list[tuple[str, float, bool]]:
    """(rule, bound on the improvement, relative) of every comparison limit the gate sets;
    an interval rule without a regression limit judges max_regression 0."""
    found = [
        ("min_absolute_change", gate.min_absolute_change, False),
        ("min_relative_change", gate.min_relative_change, True),
        ("max_regression", None if gate.max_regression is None else -gate.max_regression, False),
        (
            "max_relative_regression",
            None if gate.max_relative_regression is None else -gate.max_relative_regression,
            True,
        ),
    ]
    wanted = [(name, bound, rel) for name, bound, rel in found if bound is not None]
    regression = gate.max_regression is not None or gate.max_relative_regression is not None
    if gate.rule != "point" and not regression:
        wanted.append(("max_regression", -0.0, False))
    return wanted


def _judge_one(
    name: str,
    gate: Gate,
    bound: float,
    relative: bool,
    improvement: float,
    base: float,
    interval: tuple[float, float] | None,
    significant: bool | None,
) -> Judgement:
    scale = abs(base) if relative and base != 0 else 1.0
    if name.startswith("max_") and gate.rule != "point":
        # the interval rules judge the regression limits, in the metric's units
        return judge_limit(name, gate.rule, improvement, -bound * scale, interval, significant)
    value = improvement / scale
    shown = f"{value:+.2%}" if relative else f"{value:+.4g}"
    limit = f"{bound:+.2%}" if relative else f"{bound:+.4g}"
    if value >= bound - 1e-12:
        return Judgement(True, f"{name}: {shown} ≥ {limit}")
    return Judgement(False, f"{name}: change {shown} is below {limit}")


def _significance(result: MetricResult, better: bool, significant: bool | None) -> Judgement:
    low, high = result.ci_low, result.ci_high
    if low is None or high is None:
        return Judgement(False, "significance required but no confidence interval")
    improved = (low > 0) if better else (high < 0)
    if significant is not None:  # Holm: the adjusted p-value decides, in the better direction
        rising = (result.delta or 0) > 0
        improved = significant and rising == better
        adjusted = f", Holm-adjusted p = {result.p_adjusted:.3g}" if result.p_adjusted else ""
    else:
        adjusted = ""
    if improved:
        return Judgement(True, f"improvement is significant{adjusted}")
    return Judgement(False, f"improvement not significant (CI [{fmt(low)}, {fmt(high)}]{adjusted})")


def baseline_missing(ctx: RunContext, state: RunState) -> str | None:
    """Why an expected baseline has no scores; None when none was expected or it is a first
    model. Expected: a baseline was set up (a git ref, the registry's champion), or asked for
    (--base, mlci.yaml's baseline) and could not be."""
    base = state.baseline
    if base is not None:
        if base.absent:
            return None
        if base.error:
            return f"the baseline {base.source.ref}: {base.error}"
        if base.model is None:
            return f"the baseline {base.source.ref} has no model"
        return None
    if ctx.options.champion:
        return None  # the champion re-evaluated: absolute gates only, by design
    if ctx.options.base or ctx.config.baseline:
        return "the baseline asked for could not be set up"
    return None


def check_slices(
    metric: str, gate: Gate, slices: list[SliceResult], adjusted: dict[Key, float]
) -> list[GateResult]:
    """One result per slice for a gate with a slices limit (gates.<metric>.slices)."""
    assert gate.slices is not None
    rule = gate.slices.rule or gate.rule
    better = (
        gate.greater_is_better
        if gate.greater_is_better is not None
        else CATALOG[metric].greater_is_better
    )
    found = []
    for part in slices:
        result = part.metrics.get(metric)
        name = f"{metric} [{part.name}]"
        common = {"name": name, "metric": metric, "rule": rule, "slice": part.name}
        if result is None or result.candidate is None or result.baseline is None:
            found.append(
                GateResult(
                    passed=True,
                    reason="not judged: no value on this slice for both models",
                    warnings=[f"slice {part.name}: {metric} undefined, not judged"],
                    **common,
                )
            )
            continue
        if part.too_small:
            found.append(
                GateResult(
                    passed=True,
                    reason=f"not judged: too small ({part.too_small})",
                    mde=result.mde,
                    warnings=[f"slice {part.name} is too small to judge: {part.too_small}"],
                    **common,
                )
            )
            continue
        improvement = (result.candidate - result.baseline) * (1 if better else -1)
        judged = judge_limit(
            "max_regression",
            rule,
            improvement,
            gate.slices.max_regression,
            improvement_interval(result, better),
            holm_verdict(adjusted, (metric, part.name), result),
        )
        warn = resolution_warning(metric, gate.slices.max_regression, result.mde, "a regression")
        found.append(
            GateResult(
                passed=judged.passed,
                reason=judged.text,
                decided_by=None if judged.passed else "slices.max_regression",
                mde=result.mde,
                warnings=[f"slice {part.name}: {warn}"] if warn else [],
                **common,
            )
        )
    return found


class Gates:
    name = "gates"
    needs: tuple[str, ...] = ("evaluate",)

    def run(self, ctx: RunContext, state: RunState) -> StageOutput:
        if state.evaluation is None:
            raise StageFailure("no evaluation")
        missing = baseline_missing(ctx, state)
        adjusted = holm(significance_family(ctx.config.gates, state.evaluation))
        evaluation = with_adjusted(state.evaluation, adjusted)
        results: list[GateResult] = []
        for name, gate in ctx.config.gates.items():
            metric = evaluation.metrics[name]
            results.append(
                check_gate(
                    name, gate, metric, missing, holm_verdict(adjusted, (name, None), metric)
                )
            )
            if gate.slices is not None:
                results += check_slices(name, gate, evaluation.slices, adjusted)
        state = replace(state, gates=tuple(results), evaluation=evaluation)
        failed = [g.name for g in results if not g.passed]
        if failed:
            return StageOutput(
                state,
                Status.FAILED,
                f"{len(failed)} of {len(results)} gates failed: {', '.join(failed)}",
            )
        return StageOutput(
            state, reason=f"{len(results)} gates passed" if results else "no gates configured"
        )
