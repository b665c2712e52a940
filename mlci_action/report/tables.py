"""The report's smaller tables: what changed, not everything there is.

:func:`package_changes` is the environment's packages added, removed and changed against the
baseline's environment; :func:`drift_view` splits a data report's checks so that the feature
drift checks are shown once, as the most drifted features with their statistics, and the other
tables hold the rest. Pure functions of the record; the templates render them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlci_action.record import DataCheck, DataReport

TOP_DRIFT = 10
_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class PackageChanges:
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    changed: list[tuple[str, str, str]]
    """name, baseline's version, candidate's version."""
    unchanged: int

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """One row per change: name, baseline's version, candidate's version ("–": absent)."""
        rows = [(name, old, new) for name, old, new in self.changed]
        rows += [(name, "–", version) for name, version in self.added]
        rows += [(name, version, "–") for name, version in self.removed]
        return sorted(rows, key=lambda row: _normal(row[0]))


def package_changes(baseline: Mapping[str, str], candidate: Mapping[str, str]) -> PackageChanges:
    """Names compared as pip compares them (case, ``-``, ``_`` and ``.`` alike)."""
    old = {_normal(name): (name, version) for name, version in baseline.items()}
    new = {_normal(name): (name, version) for name, version in candidate.items()}
    return PackageChanges(
        added=[new[key] for key in sorted(new.keys() - old.keys())],
        removed=[old[key] for key in sorted(old.keys() - new.keys())],
        changed=[
            (new[key][0], old[key][1], new[key][1])
            for key in sorted(old.keys() & new.keys())
            if old[key][1] != new[key][1]
        ],
        unchanged=sum(1 for key in old.keys() & new.keys() if old[key][1] == new[key][1]),
    )


@dataclass(frozen=True)
class DataView:
    failed: list[DataCheck]
    warned: list[DataCheck]
    """Warnings other than feature drift."""
    passed: list[DataCheck]
    """Passed checks other than feature drift."""
    drift: list[DataCheck]
    """The most drifted features (by statistic over its threshold), at most TOP_DRIFT."""
    drift_total: int
    drifted: int
    """Features whose drift check did not pass."""


def drift_view(data: DataReport, top: int = TOP_DRIFT) -> DataView:
    drift = [c for c in data.checks if c.kind == "drift" and c.column and c.statistic is not None]
    ranked = sorted(drift, key=_drift_rank, reverse=True)
    shown = {id(check) for check in ranked[:top]}
    others = [c for c in data.checks if id(c) not in {id(d) for d in drift}]
    return DataView(
        # a failing drift check is a failure: listed with the failures whatever its rank
        failed=[c for c in data.failed_checks if id(c) not in shown],
        warned=[c for c in others if c.outcome == "warning"],
        passed=[c for c in others if c.outcome == "passed"],
        drift=ranked[:top],
        drift_total=len(drift),
        drifted=sum(1 for c in drift if not c.passed),
    )


def _drift_rank(check: DataCheck) -> float:
    statistic = check.statistic or 0.0
    return statistic / check.threshold if check.threshold else statistic


def _normal(name: str) -> str:
    return _SEPARATORS.sub("-", name).lower()
