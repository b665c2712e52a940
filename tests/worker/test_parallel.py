"""Chunks of resamples on threads: the same numbers as one thread, in the same order."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from mlci_action.worker import parallel
from mlci_action.worker.fast_scores import Columns
from mlci_action.worker.parallel import in_parallel, thread_count
from mlci_action.worker.resampling import _PoissonSampler, _stream, draw
from mlci_action.worker.scoring import bootstrap_deltas_all


def test_results_keep_the_order_of_the_items_and_use_several_threads() -> None:
    seen: set[str] = set()
    barrier = threading.Barrier(2, timeout=10)  # passes only if two tasks run at once

    def task(item: int) -> int:
        seen.add(threading.current_thread().name)
        if item < 2:
            barrier.wait()
        return item * item

    assert in_parallel(task, range(12), threads=2) == [k * k for k in range(12)]
    assert len(seen) == 2


def test_one_thread_runs_in_the_calling_thread() -> None:
    names = in_parallel(lambda _: threading.current_thread().name, range(3), threads=1)
    assert names == [threading.current_thread().name] * 3


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"OMP_NUM_THREADS": "1"}, 1),
        ({"MLCI_WORKER_THREADS": "1", "OMP_NUM_THREADS": "4"}, 1),
        ({"OMP_NUM_THREADS": "not a number"}, None),
        ({"OMP_NUM_THREADS": "0"}, None),
    ],
)
def test_thread_count_follows_the_cores_and_the_limits(
    environ: dict[str, str], expected: int | None
) -> None:
    cores = thread_count({})
    assert cores >= 1
    assert thread_count(environ) == (cores if expected is None else min(cores, expected))


def test_a_task_error_reaches_the_caller() -> None:
    def task(item: int) -> int:
        if item == 3:
            raise ValueError("chunk 3")
        return item

    with pytest.raises(ValueError, match="chunk 3"):
        in_parallel(task, range(6), threads=2)


def _models(rows: int) -> dict[str, np.ndarray]:
    x, y = make_classification(n_samples=rows + 300, n_features=6, random_state=3)
    good = LogisticRegression(max_iter=500).fit(x[:300], y[:300])
    weak = DecisionTreeClassifier(max_depth=2, random_state=0).fit(x[:300], y[:300])
    test = slice(300, None)
    return {
        "y_true": y[test],
        "pred_c": good.predict(x[test]),
        "proba_c": good.predict_proba(x[test]),
        "pred_b": weak.predict(x[test]),
        "proba_b": weak.predict_proba(x[test]),
        "classes": good.classes_,
    }


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_threads_give_the_same_deltas_as_one_thread(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = _models(2000)
    metrics = ["accuracy", "f1", "roc_auc", "log_loss", "average_precision", "brier_score"]

    def run(threads: int) -> dict[str, np.ndarray]:
        monkeypatch.setenv("MLCI_WORKER_THREADS", str(threads))
        # small chunks, so that there are many of them to spread over the threads
        monkeypatch.setattr(
            "mlci_action.worker.scoring.chunk_ranges",
            lambda rows, resamples: [
                range(start, min(start + 7, resamples)) for start in range(0, resamples, 7)
            ],
        )
        return bootstrap_deltas_all(metrics, **inputs, resamples=100, seed=5, method=method)

    one, two = run(1), run(2)
    for name in metrics:
        np.testing.assert_array_equal(one[name], two[name])  # bit for bit
        assert len(one[name]) == 100


def test_zero_one_columns_sum_exactly_as_in_float64() -> None:
    """The float32 product of the 0/1 columns equals float64 bit for bit; other columns stay
    float64."""
    rng = np.random.default_rng(1)
    rows = 50_000
    columns = Columns(rows)
    hits = columns.add(rng.random(rows) < 0.3)
    losses = columns.add(-np.log(rng.random(rows)))
    weights = draw(rows, range(6), 2, "multinomial")
    sums = columns.chunk(weights).sums
    wide = weights.astype(np.float64)
    np.testing.assert_array_equal(sums[:, columns.total], wide.sum(axis=1))
    np.testing.assert_array_equal(sums[:, hits], wide @ (np.asarray(columns._values[hits])))
    np.testing.assert_allclose(sums[:, losses], wide @ columns._values[losses], rtol=1e-13)


@pytest.mark.parametrize("lam", [1.0, 0.99])
def test_byte_pair_lookup_equals_the_byte_table(lam: float) -> None:
    sampler = _PoissonSampler(lam)
    for size in (1, 7, 8, 9, 1001):
        stream = _stream(4, size)
        words = stream.bit_generator.random_raw(-(-size // 8))
        by_byte = np.take(sampler.table, words.view(np.uint8)[:size])
        by_pair = np.take(sampler.pairs, words.view(np.uint16)).view(np.uint8)[:size]
        np.testing.assert_array_equal(by_pair, by_byte)


def test_blas_is_one_thread_inside_and_restored_after() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS pool found")
    before = [pool["num_threads"] for pool in blas]

    def inside(_: int) -> list[int]:
        pools = threadpoolctl.threadpool_info()
        return [pool["num_threads"] for pool in pools if pool["user_api"] == "blas"]

    assert in_parallel(inside, range(2), threads=2) == [[1] * len(blas)] * 2
    after = threadpoolctl.threadpool_info()
    assert [pool["num_threads"] for pool in after if pool["user_api"] == "blas"] == before
    assert parallel.LIMITS[0] == "MLCI_WORKER_THREADS"
