"""Scoring a partitioned test set one partition at a time: the metrics equal the one-file
evaluation of the same rows, and the Poisson bootstrap's weights depend on (seed, partition),
not on the order in which the partitions were scored."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mlci_action.errors import InputError
from mlci_action.record import Evaluation
from mlci_action.worker import evaluate
from mlci_action.worker.categories import categorize
from mlci_action.worker.partition_scores import merged, score_part
from mlci_action.worker.partitions import partitions, read_partition
from mlci_action.worker.resampling import draw_parts
from tests.worker.partitioned_scores import SIZES, request, write


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    return write(tmp_path_factory.mktemp("scores"))


def evaluated(path: Path, candidate: str, baseline: str | None, **extra: object) -> Evaluation:
    return Evaluation.model_validate(evaluate.run(request(path, candidate, baseline, **extra)))


def test_partitioned_metrics_equal_the_one_file_metrics(split, tmp_path: Path) -> None:
    one, parts, candidate, baseline = split
    whole = evaluated(one, candidate, baseline)
    smoke = {"smoke_path": str(tmp_path / "smoke.json"), "smoke_rows": 50}
    found = evaluated(parts, candidate, baseline, **smoke)

    assert (found.rows, found.partitions, whole.partitions) == (4000, len(SIZES), None)
    assert (found.bootstrap_method, found.bootstrap_seed) == ("poisson", 5)
    for name, expected in whole.metrics.items():
        got = found.metrics[name]
        for field in ("candidate", "baseline", "delta"):
            assert getattr(got, field) == pytest.approx(getattr(expected, field), rel=1e-12)
        assert got.test == expected.test
        if got.test in ("mcnemar", "delong"):  # exact tests on the same rows: the same result
            assert (got.ci_low, got.ci_high, got.p_value) == pytest.approx(
                (expected.ci_low, expected.ci_high, expected.p_value), rel=1e-9
            )
        else:  # the bootstrap: another Poisson draw of the same distribution
            assert got.ci_low is not None and expected.ci_low is not None
            assert got.ci_high is not None and expected.ci_high is not None
            width = expected.ci_high - expected.ci_low
            assert abs(got.ci_low - expected.ci_low) < 0.35 * width, name
            assert abs(got.ci_high - expected.ci_high) < 0.35 * width, name
    # slices: the same slices (a value slice's top values over all partitions), same values
    assert [s.name for s in found.slices] == [s.name for s in whole.slices]
    for got, expected in zip(found.slices, whole.slices, strict=True):
        assert got.rows == expected.rows
        for name, metric in expected.metrics.items():
            assert found_value(got.metrics[name].candidate) == found_value(metric.candidate)
    assert found.curves == whole.curves  # ROC, precision-recall, calibration, confusion
    assert (tmp_path / "smoke.json").is_file()


def found_value(value: float | None) -> float | None:
    return None if value is None else round(value, 12)


def test_the_bootstrap_does_not_depend_on_the_order_partitions_were_scored(split) -> None:
    _, parts, candidate, baseline = split
    boot = {"resamples": 100, "confidence": 0.95, "seed": 5, "method": "poisson"}
    asked = request(parts, candidate, baseline, slices=[], bootstrap=boot)
    models = evaluate.load_models(asked)
    listed = partitions(str(parts), Path.cwd(), setting="data.test")
    scored: dict[int, object] = {}
    for index in reversed(range(len(listed))):  # last partition first, as a cluster might
        part = listed[index]
        scored[index] = score_part(asked, models, read_partition(part), part.name, first=index == 0)
    in_order = Evaluation.model_validate(evaluate.run(asked))
    reordered = merged(asked, [scored[index] for index in range(len(listed))])  # type: ignore[misc]
    assert reordered.model_dump() == in_order.model_dump()
    reseeded = {**asked, "bootstrap": {**boot, "seed": 6}}
    other_seed = merged(reseeded, [scored[index] for index in range(len(listed))])  # type: ignore[misc]
    assert other_seed.metrics["f1"].ci_low != in_order.metrics["f1"].ci_low


def test_a_partitions_weights_depend_on_its_index_not_on_the_others() -> None:
    first = draw_parts([300, 500], range(4), seed=9)
    other = draw_parts([17, 500], range(4), seed=9)
    assert first.shape == (4, 800)
    assert np.array_equal(first[:, 300:], other[:, 17:])  # partition 1's weights: its own
    assert not np.array_equal(first[:, :17], other[:, :17])
    assert abs(first.mean() - 1) < 0.05  # Poisson(1)
    assert np.array_equal(draw_parts([300, 500], range(2, 4), seed=9), first[2:])  # chunking


def test_category_counts_are_drawn_per_partition() -> None:
    truth = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    partition = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    grouped = categorize(truth, truth, truth, partition=partition)
    assert grouped is not None and grouped.by_part is not None
    assert [grouped.by_part[p].tolist() for p in (0, 1)] == [[1, 2], [3, 2]]
    counts = grouped.counts(20_000, 1, "poisson")
    assert counts.mean(axis=0) == pytest.approx([4, 4], rel=0.03)
    # a partition's counts come from its own stream: the first alone draws the same
    alone = categorize(truth[:3], truth[:3], truth[:3], partition=partition[:3])
    assert alone is not None and alone.by_part is not None
    rest = counts - alone.counts(20_000, 1, "poisson")
    assert (rest >= 0).all() and math.isclose(rest.mean(axis=0)[0], 3, rel_tol=0.03)


def test_a_partitioned_test_set_without_rows(tmp_path: Path, split) -> None:
    _, _, candidate, baseline = split
    with pytest.raises(InputError, match="hold no rows"):
        merged(request(tmp_path, candidate, baseline), [None, None])
