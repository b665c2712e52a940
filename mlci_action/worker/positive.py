"""The positive class of a binary task: the class whose recall, precision, F1, ROC AUC, average
precision and Brier score are reported.

Configured (``evaluation.positive_class``), it must be one of the labels. Otherwise it must be
obvious from the labels: 1 against 0 or -1, True against False, or a label spelled "1", "yes",
"true" or "positive" (any case). Anything else ('bought' and 'not_bought', 1 and 2, 'M' and
'B') is an input error: the previous rule (the label that sorts second) silently scored the
wrong class for half of all string labels.

Pure Python and numpy: imported by the preflight (mlci's own process) and by the worker.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from mlci_action.errors import InputError

Label = str | int | float | bool
_WORDS = {"1", "yes", "true", "positive"}
_YAML_TRUE = {"true", "yes", "y", "on", "1"}
_YAML_FALSE = {"false", "no", "n", "off", "0"}
_SETTING = "evaluation.positive_class"


def resolve_positive(labels: Iterable[Any], configured: Label | None) -> Label:
    """The positive class among ``labels`` (a target column, or a model's classes), as a plain
    Python value of the labels' own type. Raises InputError when there is none."""
    distinct = _distinct(labels)
    if configured is not None:
        return _configured(distinct, configured)
    obvious = [label for label in distinct if _looks_positive(label, distinct)]
    if len(obvious) == 1:
        return obvious[0]
    shown = " and ".join(repr(label) for label in distinct[:2])
    more = f" (and {len(distinct) - 2} more)" if len(distinct) > 2 else ""
    raise InputError(
        f"labels {shown}{more} give no obvious positive class",
        hint=f"set {_SETTING} in mlci.yaml to the class whose recall/precision matter",
    )


def _distinct(labels: Iterable[Any]) -> list[Label]:
    seen: dict[tuple[str, Label], Label] = {}
    for raw in labels:
        label = raw.item() if hasattr(raw, "item") else raw  # numpy scalars: plain values
        if label is None or (isinstance(label, float) and math.isnan(label)):
            continue
        seen.setdefault((type(label).__name__, label), label)
    return sorted(seen.values(), key=lambda label: (str(type(label)), str(label)))


def _configured(distinct: list[Label], configured: Label) -> Label:
    matches = [label for label in distinct if _same(label, configured)]
    if len(matches) == 1:
        return matches[0]
    count = len(distinct)
    if not matches:
        # the labels are the data's contents: only one that is essentially what was typed
        # (case, a slip) is shown
        texts = {str(label): label for label in distinct}
        folded = [t for t in texts if t.casefold() == str(configured).casefold()]
        close = folded or difflib.get_close_matches(str(configured), list(texts), 1, 0.8)
        suggestion = f"; did you mean {texts[close[0]]!r}?" if close else ""
        raise InputError(
            f"{_SETTING} is {configured!r}, which is not one of the {count} labels of the "
            f"target{suggestion}",
            hint=f"set {_SETTING} in mlci.yaml to one of them, spelled as in the data "
            "(quote it to keep a string: positive_class: 'yes')",
        )
    raise InputError(
        f"{_SETTING} {configured!r} matches {len(matches)} of the {count} labels "
        f"({', '.join(repr(label) for label in matches)})",
        hint=f"quote {_SETTING} in mlci.yaml exactly as the label is spelled in the data",
    )


def _same(label: Label, configured: Label) -> bool:
    """Whether a label is the configured value. YAML reads an unquoted yes/no/on/off as a
    boolean, and a quoted '1' as a string: both still name the label they spell."""
    if isinstance(configured, bool):
        if isinstance(label, bool):
            return label is configured
        words = _YAML_TRUE if configured else _YAML_FALSE
        return str(label).strip().casefold() in words
    if isinstance(label, bool):
        return str(label).casefold() == str(configured).strip().casefold()
    if isinstance(label, str) or isinstance(configured, str):
        return str(label) == str(configured)
    return bool(label == configured)


def _looks_positive(label: Label, distinct: list[Label]) -> bool:
    if isinstance(label, bool):
        return label
    if isinstance(label, int | float):
        # 1 is positive against 0 or -1; against 2 (say) the numbers are only names
        others = [other for other in distinct if other != label]
        return label == 1 and all(
            isinstance(o, int | float) and not isinstance(o, bool) and o in (0, -1) for o in others
        )
    return label.strip().casefold() in _WORDS
