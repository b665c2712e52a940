"""Mermaid ``xychart-beta`` line charts of the report's curves, as GitHub renders them.

GitHub draws fenced ``mermaid`` blocks in comments and job summaries itself (Mermaid 10.x and
11.x have ``xychart-beta``): no image upload, no third-party host. The chart has no legend, so
the colours are fixed here (``plotColorPalette``, in the order the lines are drawn) and a caption
below the chart names them.

Everything in a curve came from the worker, which runs in the pull request's environment: text
is reduced to letters, digits and a few harmless punctuation marks (no quote, ``%``, ``#``,
``;``, brackets, backtick or angle bracket can reach the chart, so nothing can end a string,
start a directive or close the code fence), numbers must be finite, and the number of points
is capped.
"""

from __future__ import annotations

import math
import re

from mlci_action.record import Curve

MAX_POINTS = 50
_UNSAFE = re.compile(r"[^\w .,:+\-=/()']")
COLOURS = {"reference": "#c8c8c8", "baseline": "#8c8c8c", "candidate": "#1f6feb"}
_UNIT = {"roc", "precision_recall", "calibration"}
"""Curves whose y axis runs from 0 to 1."""


def text(value: object, limit: int = 60) -> str:
    """Text safe inside a quoted Mermaid string (and a Markdown code fence)."""
    cleaned = " ".join(_UNSAFE.sub(" ", str(value)).split())
    return cleaned[:limit].strip() or "-"


def xychart(curve: Curve) -> str:
    """The chart's Mermaid source (without the fence)."""
    lines = [
        (name, values)
        for name, values in (
            ("reference", curve.reference),
            ("baseline", curve.baseline),
            ("candidate", curve.candidate),
        )
        if values
    ]
    size = min(len(curve.x), MAX_POINTS, *(len(v) for _, v in lines))
    shown = [(name, [_finite(v) for v in values[:size]]) for name, values in lines]
    palette = ", ".join(COLOURS[name] for name, _ in shown)
    out = [
        "---",  # the configuration as front matter (Mermaid 10.5 and later)
        "config:",
        "  xyChart:",
        "    width: 800",
        "    height: 360",
        "    xAxis:",
        "      labelFontSize: 12",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{palette}"',
        "---",
        "xychart-beta",
        f'    title "{text(curve.title, 80)}"',
    ]
    xs = [_finite(v) for v in curve.x[:size]]
    # one category per point: Mermaid spaces a line's points evenly, whatever the x values
    ticks = ", ".join(f'"{_tick(v)}"' for v in xs)
    out.append(f'    x-axis "{text(curve.x_label)}" [{ticks}]')
    if curve.kind in _UNIT:
        out.append(f'    y-axis "{text(curve.y_label)}" 0 --> 1')
    else:
        low, high = _range([v for _, values in shown for v in values], curve.kind == "residuals")
        out.append(f'    y-axis "{text(curve.y_label)}" {_number(low)} --> {_number(high)}')
    for _, values in shown:
        out.append("    line [" + ", ".join(_number(v) for v in values) + "]")
    return "\n".join(out)


def caption(curve: Curve) -> str:
    """Which line is which (xychart-beta draws no legend), with the areas under the curves."""
    names = {"roc": "AUC", "precision_recall": "AP"}
    area = names.get(curve.kind)
    parts = []
    if curve.baseline:
        parts.append(f"grey: baseline{_area(area, curve.baseline_area)}")
    parts.append(f"blue: candidate{_area(area, curve.candidate_area)}")
    if curve.reference and curve.reference_name:
        parts.append(f"light grey: {text(curve.reference_name)}")
    return " · ".join(parts)


def _area(name: str | None, value: float | None) -> str:
    if name is None or value is None or not math.isfinite(value):
        return ""
    return f" ({name} {value:.3f})"


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _number(value: float) -> str:
    """Fixed-point (Mermaid's numbers have no exponent), four significant digits."""
    if value == 0:
        return "0"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    fixed = f"{value:.{min(decimals, 8)}f}"
    return fixed.rstrip("0").rstrip(".") if "." in fixed else fixed


def _tick(value: float) -> str:
    """A short axis label: 0.05, 7.61, 344, 1.4k, -30k (categories sit side by side)."""
    size = abs(value)
    if size >= 10_000:
        return f"{value / 1000:.0f}k"
    if size >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if size >= 100 else f"{value:.3g}"


def _range(values: list[float], from_zero: bool) -> tuple[float, float]:
    low, high = min(values, default=0.0), max(values, default=1.0)
    if from_zero or (low > 0 and low < high / 3):
        low = min(low, 0.0)
    if low == high:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.05
    return (low - pad if low != 0 else 0.0), high + pad
