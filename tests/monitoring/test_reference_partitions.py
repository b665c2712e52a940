"""The reference profile of partitioned data (a directory or glob of Parquet files) against
the profile of the same rows in one file: categorical levels, histogram counts, predictions,
probabilities and metrics equal; numeric quantiles and sketch within the merge's documented
rank error (mlci_action.monitoring.merge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skops.io import dump

from mlci_action.executors.tasks import ReferenceProfile
from mlci_action.monitoring.merge import GRID, Summary, merged_quantiles, summarize
from mlci_action.monitoring.profile import NumericProfile, Profile
from mlci_action.worker.__main__ import run_task
from tests.monitoring.world import fit, frame

PARTS = 5


def _split(data: pd.DataFrame, folder: Path) -> None:
    folder.mkdir()
    for index, chunk in enumerate(np.array_split(np.arange(len(data)), PARTS)):
        data.iloc[chunk].to_parquet(folder / f"part-{index:02d}.parquet", index=False)


def _profile(tmp_path: Path, train: str, test: str, name: str) -> Profile:
    request = ReferenceProfile(
        train_path=train,
        test_path=test,
        target="y",
        task="classification",
        model=str(tmp_path / "model.skops"),
        metrics=["accuracy", "roc_auc", "log_loss"],
        bootstrap={"resamples": 30, "seed": 3},
        profile_path=str(tmp_path / name),
    )
    outcome = run_task(request.kind, request.model_dump(mode="json"))
    assert outcome["ok"], outcome
    return Profile.from_json((tmp_path / name).read_bytes())


def _rank_error(values: np.ndarray, found: list[float], asked: np.ndarray) -> float:
    ranks = np.searchsorted(np.sort(values), found, side="right") / values.size
    return float(np.max(np.abs(ranks - asked)))


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Profile, Profile, pd.DataFrame]:
    tmp_path = tmp_path_factory.mktemp("reference")
    train, test = frame(4000, seed=1), frame(1500, seed=2)
    train.loc[train.index % 97 == 0, "x2"] = np.nan  # missing values counted exactly
    train["color"] = train["color"].astype(object)
    train.loc[train.index % 89 == 0, "color"] = None
    dump(fit(train.dropna()), tmp_path / "model.skops")
    train.to_parquet(tmp_path / "train.parquet", index=False)
    test.to_parquet(tmp_path / "test.parquet", index=False)
    _split(train, tmp_path / "train")
    _split(test, tmp_path / "test")
    one = _profile(tmp_path, str(tmp_path / "train.parquet"), str(tmp_path / "test.parquet"), "a")
    merged = _profile(tmp_path, str(tmp_path / "train"), str(tmp_path / "test/*.parquet"), "b")
    return one, merged, train


def test_counts_levels_predictions_and_metrics_equal_the_one_file_profile(
    profiles: tuple[Profile, Profile, pd.DataFrame],
) -> None:
    one, merged, _ = profiles
    assert merged.rows == one.rows == 4000
    assert merged.features["color"] == one.features["color"]
    assert merged.prediction == one.prediction
    assert merged.probabilities == one.probabilities
    assert merged.metrics == one.metrics
    assert list(merged.features) == list(one.features)
    for name in ("x1", "x2"):
        a, b = one.features[name], merged.features[name]
        assert isinstance(a, NumericProfile) and isinstance(b, NumericProfile)
        assert b.missing == a.missing and b.rows == a.rows
        assert sum(b.counts) == sum(a.counts)


def test_numeric_quantiles_and_edges_are_within_the_documented_rank_error(
    profiles: tuple[Profile, Profile, pd.DataFrame],
) -> None:
    one, merged, train = profiles
    for name in ("x1", "x2"):
        values = train[name].dropna().to_numpy()
        bound = 1 / GRID + PARTS / values.size
        a, b = one.features[name], merged.features[name]
        assert isinstance(a, NumericProfile) and isinstance(b, NumericProfile)
        assert b.sketch is not None and a.sketch is not None
        asked = np.linspace(0, 1, len(b.sketch))
        assert _rank_error(values, b.sketch, asked) <= bound + 1 / values.size
        assert b.quantiles.keys() == a.quantiles.keys()
        qs = np.array([float(q) for q in b.quantiles])
        assert _rank_error(values, list(b.quantiles.values()), qs) <= bound + 1 / values.size
        # the counts are exact on the merged edges: each bin holds the rows between them
        exact = np.histogram(values, bins=b.edges)[0]
        assert b.counts == [int(c) for c in exact]
        assert len(b.edges) == len(a.edges)


def test_one_partition_merges_to_its_own_exact_quantiles() -> None:
    values = np.random.default_rng(4).normal(size=1234)
    asked = np.linspace(0, 1, 101)
    merged = merged_quantiles([summarize(values)], asked)
    assert np.allclose(merged, np.quantile(values, asked), rtol=0, atol=1e-12)


def test_partitions_without_values_are_left_out_of_the_merge() -> None:
    values = np.arange(100.0)
    empty = Summary(present=0, missing=7, points=np.empty(0))
    merged = merged_quantiles([empty, summarize(values), empty], [0.0, 0.5, 1.0])
    assert merged.tolist() == [0.0, 49.5, 99.0]
