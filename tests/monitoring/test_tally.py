"""The fast tallies (one sort per block, Parquet read in the needed columns with categoricals as
dictionaries) count exactly what a straightforward value-by-value pass counts: on random data
with NaNs, values on the bin edges and CDF points, categories the reference never saw, missing
categories, a feature name with a dot, empty blocks and an empty file."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlci_action.monitoring import blocks
from mlci_action.monitoring.bins import bin_index
from mlci_action.monitoring.drift import reference_cdf
from mlci_action.monitoring.live import read_log
from mlci_action.monitoring.profile import NumericProfile, Profile, build_profile
from mlci_action.monitoring.tally import CategoricalTally, NumericTally, numeric_tally
from tests.monitoring.world import write_log

LEVELS = ["a", "b", "c"]
UNSEEN = ["z", "</details>", "-->"]


def reference_numeric(edges: list[float], points: Any, values: list[float]) -> dict[str, Any]:
    """Value by value: the bin whose inner edges bracket it (an edge goes up; clipped to the
    end bins), and for each CDF point the values at or below it."""
    inner = edges[1:-1]
    counts = [0] * (len(edges) - 1)
    at_points = [0] * len(points)
    missing = 0
    for value in values:
        if value is None or value != value:  # NaN
            missing += 1
            continue
        index = min(sum(1 for edge in inner if edge <= value), len(counts) - 1)
        counts[index] += 1
        for j, point in enumerate(points):
            at_points[j] += value <= point
    return {"counts": counts, "at_points": at_points, "missing": missing, "rows": len(values)}


def tallied(tally: NumericTally) -> dict[str, Any]:
    return {
        "counts": tally.counts.tolist(),
        "at_points": tally.at_points.tolist(),
        "missing": tally.missing,
        "rows": tally.rows,
    }


def live_values(rng: np.random.Generator, rows: int, edges: list[float]) -> list[float]:
    """Shifted normals, a tenth NaN, a tenth exactly on an edge (ties), some far outside."""
    values = rng.normal(0.4, 1.5, rows)
    values[rng.random(rows) < 0.1] = np.nan
    on_edge = rng.random(rows) < 0.1
    values[on_edge] = rng.choice(edges, int(on_edge.sum()))
    values[rng.random(rows) < 0.02] *= 100
    return [float(v) for v in values]


def test_a_numeric_tally_in_blocks_equals_the_value_by_value_count() -> None:
    rng = np.random.default_rng(7)
    train = rng.normal(0, 1, 2000).round(1)  # rounded: sketch points tie with live values
    profile = build_profile(
        pd.DataFrame({"x": train, "y": [0, 1] * 1000}),
        "y",
        np.asarray([0, 1] * 50),
        None,
        {},
        task="classification",
    )
    reference = profile.features["x"]
    assert isinstance(reference, NumericProfile)
    points = reference_cdf(reference)[0]
    values = live_values(rng, 3000, reference.edges) + [float(p) for p in points]
    tally = numeric_tally(reference.edges, points)
    cuts = sorted(rng.choice(len(values), 6, replace=False).tolist())
    for part in np.split(np.asarray(values), [0, *cuts, cuts[-1], len(values)]):
        tally.add(part)  # empty parts among them
    assert tallied(tally) == reference_numeric(reference.edges, points, values)


def test_edges_out_of_order_keep_the_one_bin_rule() -> None:
    edges, points = [0.0, 2.0, 1.0, 3.0], np.asarray([0.5, 2.5])
    values = [0.1, 1.5, 2.0, 2.5, float("nan"), 9.0]
    tally = numeric_tally(edges, points)
    tally.add(np.asarray(values))
    index = bin_index(edges, values)
    assert tally.counts.tolist() == np.bincount(index[index >= 0], minlength=3).tolist()
    assert tally.at_points.tolist() == [1, 4] and tally.missing == 1


def _profile(rng: np.random.Generator, second: str) -> Profile:
    train = pd.DataFrame(
        {
            "num": rng.normal(0, 1, 1500).round(2),
            second: rng.normal(5, 2, 1500),
            "cat": rng.choice(LEVELS, 1500),
            "y": rng.integers(0, 2, 1500),
        }
    )
    return build_profile(
        train, "y", rng.integers(0, 2, 300), None, {}, task="classification", positive_class=1
    )


def _records(rng: np.random.Generator, rows: int, second: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for i in range(rows):
        num = None if rng.random() < 0.1 else round(float(rng.normal(0.5, 1)), 2)
        cat = None if rng.random() < 0.1 else str(rng.choice(LEVELS + UNSEEN))
        out.append(
            {
                "id": f"r{i}",
                "row": 0,
                "time": (now - timedelta(seconds=rows - i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "model": "m",
                "version": "v",
                "image_digest": "",
                "features": {
                    "num": num,
                    second: float(rng.normal(5, 2)),
                    "cat": cat,
                    "extra": "not in the profile",
                },
                "prediction": int(rng.integers(0, 2)),
            }
        )
    return out


def _expected(profile: Profile, items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, reference in profile.features.items():
        values = [item["features"].get(name) for item in items]
        if isinstance(reference, NumericProfile):
            numbers = [float("nan") if v is None else v for v in values]
            out[name] = reference_numeric(
                reference.edges, reference_cdf(reference)[0].tolist(), numbers
            )
        else:
            present = Counter(str(v) for v in values if v is not None)
            out[name] = (dict(present), values.count(None))
    out["prediction"] = (dict(Counter(str(item["prediction"]) for item in items)), 0)
    return out


def _got(features: dict[str, Any], prediction: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, tally in [*features.items(), ("prediction", prediction)]:
        if isinstance(tally, NumericTally):
            out[name] = tallied(tally)
        else:
            assert isinstance(tally, CategoricalTally)
            out[name] = (dict(tally.levels), tally.missing)
    return out


@pytest.mark.parametrize(
    ("kind", "second"),
    [("parquet", "plain"), ("parquet", "dotted.name"), ("jsonl", "dotted.name")],
)
def test_the_log_reader_tallies_what_a_value_by_value_pass_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, second: str
) -> None:
    """A dot in a feature name: Parquet reads the whole features struct, not column paths."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(blocks, "BATCH", 97)  # many Parquet blocks, the last one short
    monkeypatch.setattr(blocks, "CHUNK", 9000)  # many JSONL blocks
    rng = np.random.default_rng(3)
    profile = _profile(rng, second)
    parts = [_records(rng, rows, second) for rows in (700, 0, 450)]
    log = tmp_path / "log"
    for index, items in enumerate(parts):
        name = f"inference-20261128T110000-1-{index}.{kind}"
        if kind == "jsonl":
            write_log(log, items, name=name)
        else:
            log.mkdir(exist_ok=True)
            schema = pa.Table.from_pylist(parts[0]).schema  # the empty file keeps the schema
            pq.write_table(pa.Table.from_pylist(items, schema=schema), log / name)
    live = read_log([str(log)], profile)
    everything = [item for items in parts for item in items]
    assert live.counts.rows == len(everything) and live.counts.malformed == 0
    assert _got(live.features, live.prediction) == _expected(profile, everything)
    assert live.models == ["m v"]


@pytest.mark.parametrize("seed", range(6))
def test_a_tally_counts_what_a_straightforward_pass_counts_on_any_values(seed: int) -> None:
    """Property test of the tally: random heavy-tailed references at scales from 1e-6 to 1e9
    (some with tied quantiles, one with a point at 1e300), and values with NaN, infinities,
    ties on every edge and point, values far outside, in blocks of random size (some empty)."""
    rng = np.random.default_rng(100 + seed)
    scale = [1.0, 1e-6, 1e9][seed % 3]
    train = rng.standard_t(1 + seed % 3, 500) * scale  # heavy tails: crowded buckets
    if seed % 3 == 0:
        train = np.round(train, 1)  # ties among the quantiles
    edges = np.unique(np.quantile(train, np.linspace(0, 1, 11))).tolist()
    far = [1e300] if seed == 5 else []
    points = np.unique(np.concatenate([np.quantile(train, np.linspace(0, 1, 101)), far]))
    values = rng.standard_t(2, 4000) * scale * 2
    values[rng.random(values.size) < 0.1] = np.nan
    values[rng.random(values.size) < 0.01] = np.inf
    values[rng.random(values.size) < 0.01] = -np.inf
    ties = rng.random(values.size) < 0.2
    values[ties] = rng.choice(np.concatenate([edges, points]), int(ties.sum()))
    values = [float(v) for v in values]
    tally = numeric_tally(edges, points)
    cuts = sorted(rng.choice(len(values), 9).tolist())
    for part in np.split(np.asarray(values), [0, *cuts, cuts[-1]]):
        tally.add(part)
    expected = reference_numeric(edges, points.tolist(), values)
    assert tallied(tally) == expected
