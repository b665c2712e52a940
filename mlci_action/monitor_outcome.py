"""What the action reads of `mlci monitor`'s run.json: its verdict, breaches and window.

The monitor writes more (the contract in the README's Monitoring section); the trigger needs
only these fields, so any others are ignored and a missing or wrong one is unusable input
(exit 2) naming the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mlci_action.errors import InputError

Verdict = Literal["healthy", "breached", "no_traffic"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Breach(_Record):
    what: Literal["feature_drift", "prediction_drift", "performance"]
    name: str
    value: float | None = None
    threshold: float | None = None


class Window(_Record):
    since: str | None = None
    until: str | None = None
    rows: int = 0
    malformed: int = 0


class MonitorOutcome(_Record):
    kind: Literal["monitor"]
    model: str
    verdict: Verdict
    breaches: tuple[Breach, ...] = ()
    window: Window = Window()


def read_outcome(path: Path) -> MonitorOutcome:
    """The monitor's run.json at ``path``, checked."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path}: `mlci monitor` wrote no run.json",
            hint="see the monitor's output above for why",
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable as JSON ({exc})") from None
    try:
        return MonitorOutcome.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InputError(
            f"{path}: not a monitor record: {problems}",
            hint="the action and `mlci monitor` must come from the same mlci version",
        ) from None
