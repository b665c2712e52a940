"""The reference profile of a real frame: edges, counts, quantiles, levels, and its JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mlci_action.monitoring.bins import bin_index
from mlci_action.monitoring.profile import (
    MAX_BINS,
    CategoricalProfile,
    NumericProfile,
    Profile,
    build_profile,
)
from tests.monitoring.world import world


def test_numeric_edges_counts_and_quantiles_follow_the_training_values() -> None:
    found = world()
    x1 = found.train["x1"].to_numpy()
    profile = found.profile.features["x1"]
    assert isinstance(profile, NumericProfile)
    edges = np.asarray(profile.edges)
    assert len(edges) - 1 <= MAX_BINS
    assert np.all(np.diff(edges) > 0)
    assert edges[0] == x1.min() and edges[-1] == x1.max()
    # every bin holds about 1/20 of the rows (quantile edges), and the counts add up
    assert sum(profile.counts) == len(x1)
    expected = np.bincount(bin_index(edges, x1), minlength=len(edges) - 1)
    assert profile.counts == expected.tolist()
    assert max(profile.counts) - min(profile.counts) <= 2
    for q, value in profile.quantiles.items():
        assert value == np.quantile(x1, float(q))
    assert profile.sketch is not None and profile.sketch[0] == x1.min()


def test_missing_values_and_levels_beyond_the_top_fifty_are_counted() -> None:
    rng = np.random.default_rng(0)
    levels = [f"l{i:03d}" for i in range(80)]
    frame = pd.DataFrame(
        {
            "size": np.where(rng.random(500) < 0.1, np.nan, rng.normal(size=500)),
            "code": rng.choice(levels, 500),
            "flag": rng.random(500) < 0.5,
            "y": rng.integers(0, 2, 500),
        }
    )
    frame.loc[:4, "code"] = None
    profile = build_profile(frame, "y", frame["y"].to_numpy(), None, {}, task="classification")
    size = profile.features["size"]
    assert isinstance(size, NumericProfile)
    assert size.missing == int(frame["size"].isna().sum()) > 0
    assert sum(size.counts) + size.missing == 500
    code = profile.features["code"]
    assert isinstance(code, CategoricalProfile)
    assert len(code.frequencies) == 50 and code.missing == 5
    top = frame["code"].value_counts()
    assert code.frequencies == {k: int(v) for k, v in top.iloc[:50].items()}
    assert code.other == int(top.iloc[50:].sum())
    flag = profile.features["flag"]  # booleans are levels, spelled as Python prints them
    assert isinstance(flag, CategoricalProfile) and set(flag.frequencies) == {"True", "False"}
    assert "y" not in profile.features


def test_the_json_round_trips_in_the_contract_format() -> None:
    profile = world().profile
    data = json.loads(profile.to_json())
    assert data["format"] == "mlci-reference/1"
    assert data["features"]["color"]["kind"] == "categorical"
    assert data["prediction"]["kind"] == "categorical"
    assert data["probabilities"]["1"]["edges"] == [i / 10 for i in range(11)]
    assert sum(data["probabilities"]["1"]["counts"]) == 1000
    assert data["metrics"]["accuracy"]["low"] < data["metrics"]["accuracy"]["value"]
    assert Profile.from_json(profile.to_json()) == profile
