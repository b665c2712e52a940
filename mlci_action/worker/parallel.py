"""Independent numpy-heavy tasks on a few threads, one per core the process may use.

numpy releases the GIL in the calls the bootstrap spends its time in (sorting, gathering,
cumulative sums, matrix products), so chunks of resamples scored on threads run in parallel.
The thread count is the cores this process may run on, capped by ``MLCI_WORKER_THREADS``
or ``OMP_NUM_THREADS`` when set (the train stage's split); BLAS is held to one thread per
task meanwhile, so that the two do not multiply.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

LIMITS = ("MLCI_WORKER_THREADS", "OMP_NUM_THREADS")


def thread_count(environ: Mapping[str, str] = os.environ) -> int:
    """The threads to use: the usable cores, capped by the first limit that is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    for name in LIMITS:
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return max(1, min(cores, int(value)))
    return max(1, cores)


def in_parallel(
    task: Callable[[Item], Result], items: Iterable[Item], threads: int | None = None
) -> list[Result]:
    """``[task(item) for item in items]``, in order, on up to ``threads`` threads."""
    work = list(items)
    threads = min(thread_count() if threads is None else threads, len(work))
    with _one_blas_thread():
        if threads <= 1:
            return [task(item) for item in work]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mlci-chunk") as pool:
            return list(pool.map(task, work))


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """BLAS's own threads off while ours run (a small matrix product gains nothing from them,
    and on a busy machine they make it several times slower)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it BLAS keeps its setting
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
