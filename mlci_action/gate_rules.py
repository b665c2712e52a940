"""How a gate judges a regression limit against the baseline: by the change itself, or by its
confidence interval (``gates.<metric>.rule``), and what the test set can resolve at all.

All in the metric's "better" direction: ``improvement = candidate - baseline`` (greater is
better) or ``baseline - candidate``; a limit L allows an improvement down to -L.

- ``point``: the improvement itself must be >= -L (mlci's first behaviour);
- ``non_inferiority``: the interval's worse end must be >= -L (the candidate is proven no
  worse than the limit; a small test set cannot prove it, so it fails);
- ``no_significant_regression``: fails only if the interval's better end is < -L (the whole
  interval past the limit: the regression is beyond doubt); when several gates judge
  significance, the Holm-adjusted p-value must be below 1 - confidence as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlci_action.config import Rule
from mlci_action.record import MetricResult


def fmt(value: float) -> str:
    return f"{value:.4g}"


@dataclass(frozen=True)
class Judgement:
    passed: bool
    text: str


def improvement_interval(result: MetricResult, better: bool) -> tuple[float, float] | None:
    """The interval of the improvement (worse end, better end); None without an interval."""
    low, high = result.ci_low, result.ci_high
    if low is None or high is None:
        return None
    return (low, high) if better else (-high, -low)


def judge_limit(
    name: str,
    rule: Rule,
    improvement: float,
    limit: float,
    interval: tuple[float, float] | None,
    significant: bool | None = None,
) -> Judgement:
    """One regression limit (``name``, e.g. max_regression) under ``rule``; ``limit`` >= 0 in
    the metric's units. ``significant``: the Holm-adjusted verdict, when it applies."""
    bound = -limit
    if rule == "point":
        if improvement >= bound - 1e-12:
            return Judgement(True, f"{name}: {improvement:+.4g} ≥ {bound:+.4g}")
        return Judgement(False, f"{name}: change {improvement:+.4g} is below {bound:+.4g}")
    if interval is None:
        return Judgement(
            False,
            f"{name} ({rule}) needs a confidence interval: none was computed "
            "(evaluation.bootstrap.resamples is 0)",
        )
    worse, better_end = interval
    shown = f"CI [{worse:+.4g}, {better_end:+.4g}]"
    if rule == "non_inferiority":
        if worse >= bound - 1e-12:
            return Judgement(True, f"{name} (non-inferiority): {shown} within {bound:+.4g}")
        return Judgement(False, f"{name} (non-inferiority): {shown} not proven within {bound:+.4g}")
    past = better_end < bound - 1e-12
    if past and significant is False:
        return Judgement(
            True,
            f"{name} (no significant regression): {shown} past {bound:+.4g}, "
            "but not significant after Holm's correction",
        )
    if past:
        return Judgement(
            False, f"{name} (no significant regression): all of {shown} is past {bound:+.4g}"
        )
    return Judgement(True, f"{name} (no significant regression): {shown} reaches {bound:+.4g}")


def resolution_warning(metric: str, limit: float, mde: float | None, what: str) -> str | None:
    """A warning when a gate's limit is below what this test set can detect."""
    if mde is None or limit <= 0 or limit >= mde:
        return None
    return (
        f"this test set cannot detect {what} of {fmt(limit)} in {metric}; "
        f"smallest detectable ≈ {fmt(mde)} (80 % power)"
    )
