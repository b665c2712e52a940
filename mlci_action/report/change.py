"""A metric's change against the baseline, in words: better, worse, or no detectable change.

One pure function, :func:`describe_change`, shared by the Markdown report and the terminal:
"log_loss worse: +0.0046 (95 % CI +0.00016 to +0.0090)". The direction of the metric decides
what better means (a smaller log_loss is better); the confidence interval decides whether the
change is detectable at all (an interval that holds 0 is "no detectable change", whatever the
sign of the point estimate). Without an interval the words say better or worse only.
"""

from __future__ import annotations

import math
from typing import Literal

from mlci_action.record import MetricResult

Verdict = Literal["better", "worse", "no detectable change", "unchanged"]


def verdict(metric: MetricResult) -> Verdict | None:
    """None without a baseline to compare with."""
    if metric.delta is None:
        return None
    if metric.ci_low is not None and metric.ci_high is not None:
        if metric.ci_low <= 0 <= metric.ci_high:
            return "no detectable change"
        rising = metric.ci_low > 0
    elif metric.delta == 0:
        return "unchanged"
    else:
        rising = metric.delta > 0
    return "better" if rising == metric.greater_is_better else "worse"


def describe_change(metric: MetricResult, name: str | None = None) -> str:
    """The change in words and numbers; with ``name``, as a sentence that starts with it."""
    said = verdict(metric)
    if said is None:
        text = "no baseline to compare with"
        return f"{name}: {text}" if name else text
    text = f"{said}: {signed(metric.delta)}"
    if metric.ci_low is not None and metric.ci_high is not None:
        level = f"{metric.confidence * 100:g} % " if metric.confidence else ""
        text += f" ({level}CI {signed(metric.ci_low)} to {signed(metric.ci_high)})"
    elif said != "unchanged":
        text += " (no confidence interval)"
    return f"{name} {text}" if name else text


def signed(value: float | None) -> str:
    """Two significant digits with the sign: +0.0046, -0.00016, +12; 0 is ±0."""
    if value is None or math.isnan(value):
        return "–"
    if value == 0:
        return "±0"
    if not math.isfinite(value) or not 1e-6 <= abs(value) < 1e6:
        return f"{value:+.2g}"
    decimals = max(0, 1 - math.floor(math.log10(abs(value))))
    return f"{value:+.{decimals}f}"
