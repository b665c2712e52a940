"""Drift of partitioned data against the baseline's training data, merged from per-partition
tallies: the categorical PSI equals the one-file figure, the numeric KS statistic (at the
grid's bin edges) gives the one-file verdict and lies within the bound its detail states."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlci_action.record import DataCheck, DataReport
from mlci_action.worker.checks import run
from mlci_action.worker.checks.common import ks
from mlci_action.worker.checks.drift_merged import ks_bounds
from mlci_action.worker.checks.drift_tally import grid_keys

HOSTILE = "`</details>` -->"
"""A drifted column's name that must not break out of the report."""


def frame(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    size = generator.normal(1000, 2, n)  # far from zero, narrow: the grid's hard case
    kind = generator.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]).astype(object)
    if drifted:
        size = size + 1.5
        kind = generator.choice(["a", "b", "c", "d"], n, p=[0.2, 0.3, 0.2, 0.3]).astype(object)
    result = pd.DataFrame(
        {
            "steady": generator.exponential(3, n).round(3),  # not drifted, numeric
            "size": size,  # drifted, numeric
            "colour": generator.choice(["red", "blue", None], n).astype(object),  # not drifted
            HOSTILE: kind,  # drifted, categorical
            "count": generator.integers(0, 20, n),  # not drifted, discrete
            "label": generator.integers(0, 2, n),
        }
    )
    return result


def write(root: Path, name: str, data: pd.DataFrame, files: int) -> None:
    """root/data/NAME.parquet, and root/data/NAME/ in ``files`` uneven Parquet files."""
    (root / "data" / name).mkdir(parents=True)
    data.to_parquet(root / "data" / f"{name}.parquet", index=False)
    cuts = np.sort(np.random.default_rng(files).choice(len(data), files - 1, replace=False))
    for at, (start, end) in enumerate(itertools.pairwise([0, *cuts.tolist(), len(data)])):
        data.iloc[start:end].to_parquet(root / "data" / name / f"part-{at:02d}.parquet")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the candidate's project, the baseline's project)."""
    candidate, baseline = tmp_path_factory.mktemp("candidate"), tmp_path_factory.mktemp("base")
    train = frame(2500, 1, drifted=True)
    write(candidate, "train", train, files=6)
    write(candidate, "test", frame(600, 2, drifted=True), files=3)
    write(baseline, "train", frame(3000, 3, drifted=False), files=5)
    return candidate, baseline


def report(project: Path, train: str, test: str, baseline: str) -> DataReport:
    request = {
        "project_dir": str(project),
        "train_path": train,
        "test_path": test,
        "target": "label",
        "task": "classification",
        "checks": {"target": {"enabled": False}, "categories": {"enabled": False}},
        "baseline_train_path": baseline,
        "partitioned": train.endswith("/"),
    }
    return DataReport.model_validate(run(request))


def drift(found: DataReport) -> dict[str | None, DataCheck]:
    return {c.column: c for c in found.checks if c.kind == "drift"}


@pytest.mark.parametrize("baseline_partitioned", [False, True])
def test_partitioned_drift_matches_the_one_file_check(
    projects: tuple[Path, Path], baseline_partitioned: bool
) -> None:
    candidate, base = projects
    whole = drift(
        report(candidate, "data/train.parquet", "data/test.parquet", f"{base}/data/train.parquet")
    )
    baseline = f"{base}/data/train" + ("/" if baseline_partitioned else ".parquet")
    parts = drift(report(candidate, "data/train/", "data/test/", baseline))

    assert list(whole) == list(parts) == [None, "steady", "size", "colour", HOSTILE, "count"]
    assert parts[None].name == "feature_columns" and parts[None].passed
    for column in ("colour", HOSTILE):  # PSI from counts: the one-file figure exactly
        a, b = whole[column], parts[column]
        assert (a.statistic, a.detail, a.passed, a.setting) == (
            b.statistic,
            b.detail,
            b.passed,
            b.setting,
        )
    assert not parts[HOSTILE].passed and parts["colour"].passed
    for column in ("steady", "size", "count"):  # KS at the bins' edges, within its bound
        a, b = whole[column], parts[column]
        assert a.statistic is not None and b.statistic is not None
        high = float(re.search(r"at most (\d\.\d+)", b.detail).group(1))  # type: ignore[union-attr]
        assert b.statistic <= a.statistic + 1e-12
        assert a.statistic <= high + 0.0005  # the detail rounds to 3 places
        assert a.passed == b.passed and a.setting == b.setting
    assert not parts["size"].passed and parts["steady"].passed and parts["count"].passed
    assert parts["count"].statistic == pytest.approx(whole["count"].statistic, abs=1e-12)


def test_ks_bounds_bracket_the_exact_statistic() -> None:
    generator = np.random.default_rng(5)
    for shift in (0.0, 0.3, 3.0):
        a = generator.normal(50, 1, 4000)
        b = generator.normal(50 + shift, 1.2, 3000)
        exact = ks(a, b)
        low, high = ks_bounds(*_histogram(a, 49.0), *_histogram(b, 49.0))
        assert low <= exact + 1e-12 and exact <= high + 1e-12
        assert low == pytest.approx(ks(grid_keys(a, 49.0), grid_keys(b, 49.0)))


def _histogram(values: np.ndarray, origin: float) -> tuple[np.ndarray, np.ndarray]:
    keys, counts = np.unique(grid_keys(values, origin), return_counts=True)
    return keys, counts


def test_grid_keys_grow_with_the_value() -> None:
    values = np.array([-np.inf, -1e6, -3.0, -1e-12, 0.0, 1e-12, 2.0, 2.001, 1e300, np.inf])
    keys = grid_keys(values, 0.0)
    assert np.all(np.diff(keys) >= 0)
    assert keys[4] == keys[3] == keys[5] == 0  # within TINY of the origin
    assert keys[6] < keys[8] < keys[9]


def test_a_baseline_that_is_not_there_is_a_note(projects: tuple[Path, Path]) -> None:
    candidate, base = projects
    found = drift(report(candidate, "data/train/", "data/test/", f"{base}/nowhere/"))
    assert [c.severity for c in found.values()] == ["warning"]
    assert "drift not checked" in found[None].detail


def test_the_same_partitions_are_unchanged(projects: tuple[Path, Path]) -> None:
    candidate, _ = projects
    found = drift(report(candidate, "data/train/", "data/test/", f"{candidate}/data/train/"))
    assert [(c.detail, c.passed) for c in found.values()] == [("data unchanged", True)]


def test_a_glob_baseline_is_read_as_its_partitions(projects: tuple[Path, Path]) -> None:
    candidate, base = projects
    request = {
        "project_dir": str(candidate),
        "train_path": "data/train/",
        "test_path": "data/test/",
        "target": "label",
        "task": "classification",
        "baseline_train_path": f"{base}/data/train",
        "baseline_train_glob": "part-0[0-2].parquet",  # three of its five files
        "partitioned": True,
    }
    found = drift(DataReport.model_validate(run(request)))
    every = drift(report(candidate, "data/train/", "data/test/", f"{base}/data/train/"))
    assert found[HOSTILE].statistic != every[HOSTILE].statistic  # fewer baseline rows
    assert not found[HOSTILE].passed and found["colour"].passed


def test_the_stage_passes_the_baseline_as_a_path_a_glob_or_a_url(tmp_path: Path) -> None:
    from mlci_action.stages.data_tests import BaselineTrain

    (tmp_path / "data" / "train").mkdir(parents=True)
    (tmp_path / "data" / "one.csv").write_text("a\n1\n")
    root = tmp_path.resolve()
    assert BaselineTrain.of(tmp_path, "data/one.csv") == BaselineTrain(f"{root}/data/one.csv")
    assert BaselineTrain.of(tmp_path, "data/train") == BaselineTrain(f"{root}/data/train")
    assert BaselineTrain.of(tmp_path, "data/train/*.parquet") == BaselineTrain(
        f"{root}/data/train", "*.parquet"
    )
    assert BaselineTrain.of(tmp_path, "s3://bucket/train/") == BaselineTrain(
        url="s3://bucket/train/"
    )
    assert BaselineTrain.of(tmp_path, "data/gone.csv") == BaselineTrain()


def test_a_drifted_column_named_from_the_pr_cannot_break_out_of_the_report(
    tmp_path: Path,
) -> None:
    from mlci_action.report.render import render_markdown
    from tests.test_report import EVIL, _cells, _data_section, record

    data = frame(900, 1, drifted=True).rename(columns={HOSTILE: EVIL})
    data.loc[:300, EVIL] = '"]; click x %%{init}%%'  # a drifted category, hostile too
    write(tmp_path / "cand", "train", data, files=3)
    write(
        tmp_path / "cand",
        "test",
        frame(300, 2, drifted=True).rename(columns={HOSTILE: EVIL}),
        files=2,
    )
    write(
        tmp_path / "base",
        "train",
        frame(900, 3, drifted=False).rename(columns={HOSTILE: EVIL}),
        files=2,
    )
    found = report(tmp_path / "cand", "data/train/", "data/test/", f"{tmp_path}/base/data/train/")
    assert not drift(found)[EVIL].passed
    section = _data_section(render_markdown(record(data=found)))
    assert "onerror=alert" in section  # the column's name is in the report, escaped
    assert "<img" not in section and "-->" not in section and "%%{init}%%" not in section
    assert '"]; click' not in section
    assert section.count("<details>") == section.count("</details>")
    for row in (row for row in section.splitlines() if row.startswith("|")):
        assert _cells(row) in (4, 5), row


@pytest.mark.parametrize("shift", [0.0, 0.8])
def test_a_regression_target_shift_within_its_bound(tmp_path: Path, shift: float) -> None:
    generator = np.random.default_rng(7)

    def rows(n: int, moved: float) -> pd.DataFrame:
        return pd.DataFrame(
            {"x": generator.normal(0, 1, n), "price": generator.lognormal(3 + moved, 0.5, n)}
        )

    write(tmp_path, "train", rows(2400, 0.0), files=6)
    write(tmp_path, "test", rows(800, shift), files=4)

    def shifted(train: str, test: str) -> DataCheck:
        request = {
            "project_dir": str(tmp_path),
            "train_path": train,
            "test_path": test,
            "target": "price",
            "task": "regression",
            "partitioned": train.endswith("/"),
        }
        found = DataReport.model_validate(run(request))
        return next(c for c in found.checks if c.name == "target_shift")

    whole = shifted("data/train.parquet", "data/test.parquet")
    parts = shifted("data/train/", "data/test/")
    assert whole.statistic is not None and parts.statistic is not None
    high = float(re.search(r"at most (\d\.\d+)", parts.detail).group(1))  # type: ignore[union-attr]
    assert parts.statistic <= whole.statistic + 1e-12 <= high + 0.0005
    assert (parts.passed, parts.setting, parts.threshold) == (
        whole.passed,
        whole.setting,
        whole.threshold,
    )
    assert parts.passed is (shift == 0.0)


def test_a_checker_actor_tallies_a_baseline_partition_for_drift_only(
    projects: tuple[Path, Path],
) -> None:
    """What a checker actor runs for the baseline (mlci_action.partition_checkers), without
    Ray: the partition's bytes in, its drift tallies out (no target needed, no row keys)."""
    from mlci_action.executors.tasks import DataPartition
    from mlci_action.worker.checks.drift_tally import DriftPlan
    from mlci_action.worker.checks.partition_task import check
    from mlci_action.worker.checks.tally import TallyPlan

    _, base = projects
    part = base / "data" / "train" / "part-01.parquet"
    rows = pd.read_parquet(part).drop(columns="label")
    plan = TallyPlan(
        target="label",
        task="classification",
        drift=DriftPlan(numeric=["size"], levels=["colour"], origins={"size": 990.0}),
    )
    asked = DataPartition(
        part_name=str(part),
        dataset="baseline",
        target="label",
        tally_plan=TallyPlan.from_json(plan.to_json()).to_json(),
    )
    buffer = rows.to_parquet(index=False)
    outcome = check(asked, buffer, None)
    assert outcome.keys is None and outcome.row_keys is None and outcome.schema is None
    assert outcome.tally is not None and outcome.tally.drift is not None
    drift_of = outcome.tally.drift
    assert sum(drift_of.numeric["size"].counts) == len(rows)
    assert drift_of.levels["colour"].counts == {
        str(k): int(v)
        for k, v in rows["colour"]
        .astype(str)
        .where(rows["colour"].notna(), "(missing)")
        .value_counts(sort=False)
        .items()
    }
    # as the actor returns it to the runner (JSON, no pickled objects)
    from mlci_action.worker.checks.partitioned import PartOutcome

    assert PartOutcome.from_json(outcome.to_json()).tally == outcome.tally
