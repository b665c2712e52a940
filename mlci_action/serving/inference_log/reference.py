"""What the live drift gauges need from the reference profile (``reference.json``, format
``mlci-reference/1``): each feature's bins or levels, and the predictions'. Read once at
start; a file that is not such a profile stops the server (exit 2) naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from mlci_action.errors import ConfigError
from mlci_action.monitoring.sliding import CategoricalReference, NumericReference, Reference

FORMAT = "mlci-reference/1"


@dataclass(frozen=True)
class LiveReference:
    path: Path
    task: str
    features: Mapping[str, Reference]
    prediction: Reference | None


def load_reference(path: Path) -> LiveReference:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: not a readable JSON reference profile ({exc})",
            hint="MLCI_REFERENCE names the reference.json built with the model",
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(
            f"{path}: field 'format' must be {FORMAT!r}",
            hint="MLCI_REFERENCE names the reference.json built with the model",
        )
    features = document.get("features")
    if not isinstance(features, dict):
        raise ConfigError(f"{path}: field 'features' must be an object of feature profiles")
    prediction = document.get("prediction")
    return LiveReference(
        path=path,
        task=str(document.get("task", "")),
        features={
            str(name): _entry(path, f"features.{name}", spec) for name, spec in features.items()
        },
        prediction=None if prediction is None else _entry(path, "prediction", prediction),
    )


def _entry(path: Path, field: str, spec: Any) -> Reference:
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{path}: field {field!r}: {what}", hint="rebuild the reference profile")

    if not isinstance(spec, dict):
        raise bad("expected an object")
    missing = _count(spec.get("missing", 0))
    if missing is None:
        raise bad("'missing' must be a count")
    if spec.get("kind") == "numeric":
        edges, counts = spec.get("edges"), spec.get("counts")
        if (
            not isinstance(edges, list)
            or len(edges) < 2
            or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in edges)
            or any(b <= a for a, b in pairwise(edges))
        ):
            raise bad("'edges' must be at least 2 strictly increasing numbers")
        if not isinstance(counts, list) or len(counts) != len(edges) - 1:
            raise bad(f"'counts' must hold one count per bin ({len(edges) - 1})")
        parsed = [_count(c) for c in counts]
        if any(c is None for c in parsed):
            raise bad("'counts' must be whole numbers of 0 or more")
        return NumericReference(
            tuple(float(e) for e in edges), tuple(c or 0 for c in parsed), missing
        )
    if spec.get("kind") == "categorical":
        frequencies, other = spec.get("frequencies"), _count(spec.get("other", 0))
        if not isinstance(frequencies, dict) or any(
            _count(c) is None for c in frequencies.values()
        ):
            raise bad("'frequencies' must map each level to a count")
        if other is None:
            raise bad("'other' must be a count")
        return CategoricalReference(
            {str(level): int(c) for level, c in frequencies.items()}, other, missing
        )
    raise bad("'kind' must be 'numeric' or 'categorical'")


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
