"""Starting a retraining: a workflow_dispatch event (action ``retrain``) with a short reason.

The workflow, and the branch it runs on, come from the trusted mlci.yaml (the default
branch's ``monitoring.retrain_workflow``) and the event; the reason is built from the
monitor's breaches and kept to a short line of plain characters, for it is shown in the
retraining run's log and summary.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mlci_action.monitoring.record import MonitorRecord

if TYPE_CHECKING:
    from mlci_action.github.api import GitHubAPI

REASON_LIMIT = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:;=()+-]")
RETRAIN_INPUTS = ("action", "reason")
"""The workflow_dispatch inputs the retraining workflow must declare."""


def retrain_reason(record: MonitorRecord) -> str:
    """e.g. ``mlci monitor: drift age: psi 0.31 above 0.2; ... (2000 rows)`` on one line of
    at most REASON_LIMIT plain characters."""
    parts = [f"{breach.kind} {breach.name}: {breach.reason}" for breach in record.breaches]
    text = f"mlci monitor: {'; '.join(parts) or record.verdict} ({record.counts.rows} rows)"
    return sanitize_reason(text)


def sanitize_reason(text: str) -> str:
    """One line, plain characters only (others become ``_``), cut to REASON_LIMIT."""
    flat = _UNSAFE.sub("_", " ".join(text.split()))
    return flat if len(flat) <= REASON_LIMIT else flat[: REASON_LIMIT - 3] + "..."


def start_retrain(api: GitHubAPI, workflow: str, ref: str, record: MonitorRecord) -> str:
    """Dispatch ``workflow`` on ``ref`` with action=retrain; returns what was started.
    Raises GitHubError (403: the missing ``actions: write``; 404: no such workflow)."""
    api.dispatch_workflow(workflow, ref, {"action": "retrain", "reason": retrain_reason(record)})
    return f"started {workflow} on {ref} (action retrain)"
