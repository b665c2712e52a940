"""The bootstrap's resamples, as per-row count weights drawn once and shared by every metric.

A resample is a vector of counts, one per test row: how often the row was drawn. A chunk of
resamples is a (resamples x rows) ``uint8`` matrix; every metric of both models is scored on
the same chunk (the comparison is paired), and the chunk's size is bounded by a cell budget.

Two methods (``evaluation.bootstrap.method``; ``auto`` takes Poisson above
:data:`POISSON_ABOVE` rows):

- ``multinomial``: the classic bootstrap, ``rows`` rows drawn with replacement, so the counts
  are Multinomial(rows, uniform). Drawn as independent Poisson(lam) counts with lam a little
  under 1, topped up with ``rows - sum`` uniformly drawn rows: given their sum, independent
  Poisson counts are multinomial, and two independent multinomials add up to one, so the
  result is exactly Multinomial(rows, uniform) at the cost of the Poisson draw (and, in the
  rare case (2e-4) where the Poisson counts overshoot, a plain draw of ``rows`` rows).
- ``poisson``: independent Poisson(1) counts per row (the total varies around ``rows``).
  Statistically equivalent for large test sets, and mergeable: a row's counts depend only on
  the seed, the resample and the row's block of :data:`ROW_BLOCK` rows.

Each row block of each resample has its own random stream
(``SeedSequence(seed, spawn_key=(resample, block))``; the multinomial top-up continues the last
block's), so the weights depend on (seed, resample, row block), not on the chunking.

A partitioned test set (:func:`draw_parts`) is always bootstrapped with Poisson counts, each
partition's rows from streams of their own (``spawn_key=(resample, PARTITION_STREAM,
partition, block)``): the weights depend on (seed, resample, partition index, row block within
the partition), not on which worker scored which partition, or in what order.

Poisson counts are drawn by inverting the CDF on random bytes: a byte decides the count unless
its 1/256 slice of [0, 1) holds a CDF step (2 % of draws), which then gets a float64
uniform inside the slice. Exact to float64 rounding of the CDF, about 4x faster than
``Generator.poisson``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

Method = Literal["multinomial", "poisson"]
Weights = npt.NDArray[np.uint8]

POISSON_ABOVE = 1_000_000
"""``auto`` uses the Poisson bootstrap above this many test rows, the multinomial one below."""
ROW_BLOCK = 1 << 18
"""Rows per random stream in a resample: the unit a partitioned evaluation would split on."""
CHUNK_CELLS = 1 << 22
"""Weight cells (resamples x rows) per chunk; the scorers' working set is ~20 bytes a cell."""

PARTITION_STREAM = (1 << 32) - 2
"""Marks a partition's row streams (one file's have two-part keys, the categories' one part)."""

_SLACK = 3.5  # multinomial: lam = 1 - 3.5/sqrt(rows); the Poisson sum overshoots 2e-4 of the time
_AMBIGUOUS = 255


def resolve_method(configured: str, rows: int) -> Method:
    """The method ``auto`` stands for at this many rows (or the configured one)."""
    if configured == "poisson" or (configured == "auto" and rows > POISSON_ABOVE):
        return "poisson"
    return "multinomial"


def chunk_size(rows: int, cells: int = CHUNK_CELLS) -> int:
    """Resamples per chunk for ``rows`` rows."""
    return max(1, cells // max(rows, 1))


def chunk_ranges(rows: int, resamples: int, cells: int = CHUNK_CELLS) -> list[range]:
    """The resamples in chunks of ``chunk_size(rows, cells)``."""
    size = chunk_size(rows, cells)
    return [range(start, min(start + size, resamples)) for start in range(0, resamples, size)]


def weight_chunks(
    rows: int, resamples: int, seed: int, method: Method, cells: int = CHUNK_CELLS
) -> Iterator[Weights]:
    """The resamples' count weights, ``chunk_size(rows, cells)`` resamples at a time."""
    for chunk in chunk_ranges(rows, resamples, cells):
        yield draw(rows, chunk, seed, method)


def draw(rows: int, resamples: range, seed: int, method: Method) -> Weights:
    """The weights of the given resamples (resamples x rows); the same for any chunking."""
    lam = 1.0 if method == "poisson" else max(0.0, 1.0 - _SLACK / math.sqrt(max(rows, 1)))
    sampler = _PoissonSampler(lam)
    weights = np.zeros((len(resamples), rows), dtype=np.uint8)
    extra: list[npt.NDArray[np.int64]] = []
    for local, resample in enumerate(resamples):
        row = weights[local]
        stream = None
        for start in range(0, rows, ROW_BLOCK) if lam > 0 else ():
            stream = _stream(seed, resample, start // ROW_BLOCK)
            row[start : start + ROW_BLOCK] = sampler.sample(stream, min(ROW_BLOCK, rows - start))
        if method == "multinomial":  # the top-up continues the resample's last stream
            stream = stream or _stream(seed, resample, 0)
            drawn = int(row.sum(dtype=np.int64))
            if drawn > rows:  # the Poisson counts overshot: draw the resample plainly
                row[:] = 0
                drawn = 0
            extra.append(local * rows + stream.integers(0, rows, rows - drawn))
    if extra:
        # counts above 255 would wrap: a row drawn 256 times out of n is beyond 1e-400
        np.add.at(weights.reshape(-1), np.concatenate(extra), np.uint8(1))
    return weights


def draw_parts(sizes: Sequence[int], resamples: range, seed: int) -> Weights:
    """Poisson(1) weights (resamples x rows) of a test set in partitions of ``sizes`` rows (in
    file order, the partition's index is its place in ``sizes``; a partition of 0 rows draws
    nothing): the same whatever the chunking of resamples."""
    sampler = _PoissonSampler(1.0)
    weights = np.zeros((len(resamples), int(sum(sizes))), dtype=np.uint8)
    for local, resample in enumerate(resamples):
        row, offset = weights[local], 0
        for partition, size in enumerate(sizes):
            for start in range(0, size, ROW_BLOCK):
                stream = _stream(seed, resample, PARTITION_STREAM, partition, start // ROW_BLOCK)
                block = min(ROW_BLOCK, size - start)
                row[offset + start : offset + start + block] = sampler.sample(stream, block)
            offset += size
    return weights


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class _PoissonSampler:
    """Poisson(lam) counts by inverting the CDF, one random byte per count."""

    def __init__(self, lam: float) -> None:
        cdf, term, k = [], math.exp(-lam), 0
        total = term
        while total < 1.0 and k < 64:
            cdf.append(total)
            k += 1
            term *= lam / k
            total += term
        cdf.append(1.0)
        self.cdf = np.asarray(cdf)
        # count for each byte b: how many CDF steps lie at or below b/256, unless one lies
        # inside (b/256, (b+1)/256): then the byte alone does not decide it
        low = np.arange(256) / 256
        below = np.searchsorted(self.cdf, low, side="right")
        inside = np.searchsorted(self.cdf, low + 1 / 256, side="left") > below
        if (below[~inside] >= _AMBIGUOUS).any():
            raise AssertionError("Poisson counts above 254 from a byte")
        self.table = np.where(inside, _AMBIGUOUS, below).astype(np.uint8)
        # the same table for two bytes at a time (numpy widens every index to 8 bytes, so a
        # lookup per byte pair halves the work): entry (b1 | b2 << 8) holds table[b1], table[b2]
        pairs = self.table[:, None].astype(np.uint16) | (self.table[None, :].astype(np.uint16) << 8)
        self.pairs = np.ascontiguousarray(pairs.T).reshape(-1)  # little-endian byte pairs

    def sample(self, stream: np.random.Generator, size: int) -> Weights:
        words = stream.bit_generator.random_raw(-(-size // 8))
        raw = words.view(np.uint8)[:size]
        if np.little_endian:
            counts = np.take(self.pairs, words.view(np.uint16)).view(np.uint8)[:size]
        else:  # pragma: no cover - big-endian machines read a byte at a time
            counts = np.take(self.table, raw)
        unsure = np.flatnonzero(counts == _AMBIGUOUS)
        if unsure.size:
            uniform = (raw[unsure] + stream.random(unsure.size)) / 256
            counts[unsure] = np.searchsorted(self.cdf, uniform, side="right")
        return counts
