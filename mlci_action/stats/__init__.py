"""The statistics of a paired comparison, one test or quantity per module.

- :mod:`.mcnemar`: McNemar's exact test for paired accuracy deltas;
- :mod:`.delong`: DeLong's test (Sun & Xu's fast algorithm) for paired ROC AUC deltas;
- :mod:`.intervals`: the expanded percentile bootstrap interval, and when a test set is too
  small for any interval to mean much;
- :mod:`.mde`: the minimum detectable effect at a confidence level and a power;
- :mod:`.holm`: Holm's step-down correction of several p-values;

:mod:`.holm` is pure Python (the gates stage uses it outside the project's environment); the
others need numpy and scipy and run in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PairedTest:
    """A test of candidate minus baseline: the delta's interval and the two-sided p-value."""

    delta: float
    low: float
    high: float
    p_value: float
    se: float
    """Standard error of the delta (for the minimum detectable effect)."""
