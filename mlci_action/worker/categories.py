"""The label metrics' resamples drawn per category of row instead of per row.

Accuracy, balanced accuracy, precision, recall and F1 of both models depend on a test row only
through its *category*: (true label, candidate's label, baseline's label), 8 categories for a
binary task. Resampling the rows then only changes how many rows of each category there are:

- ``multinomial``: ``rows`` rows drawn with replacement put Multinomial(rows, n_c / rows)
  rows in the categories (n_c: the category's rows);
- ``poisson``: a category's count is a sum of n_c independent Poisson(1) counts, Poisson(n_c).

So the label metrics' bootstrap distribution is exactly the row bootstrap's, at O(categories)
per resample instead of O(rows); the draws themselves differ from the row weights' (a change of
method for the same distribution, tested against the row bootstrap). One stream of its own
(``SeedSequence(seed, spawn_key=(CATEGORY_STREAM,))``) draws every resample's counts in one
call; a category count matrix plays the part of a chunk's row weights, with each category's
first row standing for all of its rows.

A partitioned test set (``partition``: each row's partition index) draws each partition's
category counts from a stream of its own (``spawn_key=(CATEGORY_STREAM, partition)``), Poisson
always, and adds them: the same counts whichever worker scored which partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mlci_action.metrics import MetricSpec
from mlci_action.worker.resampling import Method

Array = npt.NDArray[Any]
Counts = npt.NDArray[np.int64]

MAX_CATEGORIES = 1 << 12
"""More categories than this (many classes): the label metrics stay on the row weights."""
CATEGORY_STREAM = (1 << 32) - 1
"""The spawn key of the category counts' stream (row streams have two-part keys)."""


def by_category(spec: MetricSpec) -> bool:
    """Whether the metric depends on a row only through its category."""
    return spec.task == "classification" and spec.input == "label"


@dataclass(frozen=True)
class Categories:
    rows: Array
    """The first row of each category, the row that stands for it."""
    sizes: Counts
    """Rows in each category (n_c)."""
    by_part: dict[int, Counts] | None = None
    """A partitioned test set: each partition's rows in each category (partition index ->
    counts per category)."""

    @property
    def total(self) -> int:
        return int(self.sizes.sum())

    def counts(self, resamples: int, seed: int, method: Method) -> Counts:
        """(resamples x categories): each resample's rows per category."""
        if self.by_part is not None:  # Poisson, a stream per partition
            found = np.zeros((resamples, len(self.sizes)), dtype=np.int64)
            for part, sizes in self.by_part.items():
                seeded = np.random.SeedSequence(seed, spawn_key=(CATEGORY_STREAM, part))
                stream = np.random.Generator(np.random.PCG64(seeded))
                found += stream.poisson(sizes, size=(resamples, len(sizes))).astype(np.int64)
            return found
        stream = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(CATEGORY_STREAM,)))
        )
        if method == "poisson":
            return stream.poisson(self.sizes, size=(resamples, len(self.sizes))).astype(np.int64)
        shares = self.sizes / self.total
        return stream.multinomial(self.total, shares, size=resamples).astype(np.int64)


def categorize(*columns: Array, partition: Array | None = None) -> Categories | None:
    """The rows' categories (the distinct combinations of the columns' values, numbered in
    order of first appearance); None when there are more than :data:`MAX_CATEGORIES`.
    ``partition``: each row's partition index (the counts are then drawn per partition)."""
    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for values in columns:
        codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=False)
        if len(uniques) > MAX_CATEGORIES:
            return None
        # below MAX_CATEGORIES distinct combinations each time: no overflow
        combined, found = pd.factorize(combined * len(uniques) + codes)
        if len(found) > MAX_CATEGORIES:
            return None
    first = np.flatnonzero(~pd.Series(combined).duplicated().to_numpy())
    sizes = np.bincount(combined, minlength=len(first)).astype(np.int64)
    if partition is None:
        return Categories(first, sizes)
    parts = np.asarray(partition)
    by_part = {
        int(part): np.bincount(combined[parts == part], minlength=len(first)).astype(np.int64)
        for part in np.unique(parts)
    }
    return Categories(first, sizes, by_part)
