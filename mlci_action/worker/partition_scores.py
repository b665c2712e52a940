"""The worker task "evaluate" on a partitioned test set (``data.test`` a directory or glob of
Parquet files): each partition read and scored on its own, the answers merged in file order.

A partition gives back only what the metrics need (:class:`~mlci_action.worker.evaluate.Answers`):
the true labels, both models' labels and probabilities, each comparison slice's mask and each
value slice's value codes, a few bytes a row; the features never leave it (but the first
partition's first ``deploy.smoke_rows`` rows, for the smoke cases). Joined in file order, the
answers are evaluated exactly as one file's are (:func:`mlci_action.worker.evaluate.evaluate`):
every metric, slice, curve, McNemar's and DeLong's test equals the one-file evaluation of the
concatenated rows. The paired bootstrap is the Poisson bootstrap with each partition's weights
drawn from streams seeded by (seed, partition index) (:func:`~mlci_action.worker.resampling.
draw_parts`), so a fixed seed and partitioning give the same intervals whichever process
scored which partition: the local executor here (one partition at a time, in this process),
the ``ray`` executor in one actor task per partition (:mod:`mlci_action.partition_scorers`).

The merging process holds the answers: about 8 bytes a row for the labels, plus 8 per class
and model for probabilities, the features never.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlci_action.errors import InputError
from mlci_action.record import Evaluation
from mlci_action.worker.evaluate import Answers, Predictions, answer, evaluate, load_models
from mlci_action.worker.partitions import Partition, partitions, read_partition
from mlci_action.worker.slicing import joined


def score_part(
    request: dict[str, Any],
    models: tuple[object, object | None],
    frame: pd.DataFrame,
    name: str,
    *,
    first: bool,
) -> Answers | None:
    """One partition's answers (None: it has no rows); ``first`` keeps the smoke cases' rows."""
    if frame.empty:
        return None
    return answer(request, models, frame, name, head=first)


def merged(request: dict[str, Any], parts: Sequence[Answers | None]) -> Evaluation:
    """The evaluation of the partitions' answers (in file order; None: an empty partition,
    which keeps its index for the bootstrap's streams)."""
    found = [(index, part) for index, part in enumerate(parts) if part is not None]
    if not found:
        raise InputError(
            f"data.test: {request['test_path']!r}: its Parquet files hold no rows",
            hint="the test set needs at least one row",
        )
    answers = [part for _, part in found]
    partition = np.concatenate(
        [np.full(len(part.truth), index, dtype=np.int32) for index, part in found]
    )
    baselines = [part.baseline for part in answers]
    whole = Answers(
        np.concatenate([part.truth for part in answers]),
        _joined([part.candidate for part in answers]),
        None if baselines[0] is None else _joined([b for b in baselines if b is not None]),
        joined([part.slices for part in answers]),
        answers[0].head,
    )
    evaluation = evaluate(request, whole, partition)
    return evaluation.model_copy(update={"partitions": len(parts)})


def _joined(sides: list[Predictions]) -> Predictions:
    first = sides[0]
    probas = [side.proba for side in sides]
    return Predictions(
        first.role,
        np.concatenate([side.labels for side in sides]),
        None if any(p is None for p in probas) else np.concatenate(probas),  # type: ignore[arg-type]
        first.classes,
    )


def read_part(name: str, url: str | None, data: bytes | None) -> pd.DataFrame:
    """A partition's rows from its bytes (a local file's, through the object store) or its
    URL (read here)."""
    if data is None:
        return read_partition(Partition(name, url or ""))
    import io

    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(data)).to_pandas().reset_index(drop=True)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{name}: cannot be read as Parquet: {exc}",
            hint="every file of a partitioned data set must be a Parquet file",
        ) from None


def run_partitioned(request: dict[str, Any]) -> dict[str, Any]:
    """Every partition read and scored in turn (one in memory at a time), then merged."""
    test = partitions(request["test_path"], Path.cwd(), setting="data.test")
    models = load_models(request)
    parts = [
        score_part(request, models, read_partition(part), part.name, first=index == 0)
        for index, part in enumerate(test)
    ]
    return merged(request, parts).model_dump(mode="json")
