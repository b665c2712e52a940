"""Deterministic, realistic data sets written as CSV files (no network: nothing is downloaded).

Each generator writes ``data/train.csv`` and ``data/test.csv`` into a project directory and
returns a :class:`Dataset` naming them. The data has what real data has and toy data lacks:
text categoricals, missing values, a skewed target, ordered categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Dataset:
    project: Path
    target: str
    train: str = "data/train.csv"
    test: str = "data/test.csv"

    @property
    def train_path(self) -> Path:
        return self.project / self.train

    @property
    def test_path(self) -> Path:
        return self.project / self.test

    def init_args(self) -> list[str]:
        """The arguments of ``mlci init`` for this data set."""
        return [
            "init",
            str(self.project),
            *("--train", self.train, "--test", self.test, "--target", self.target),
        ]


def _write(project: Path, frame: pd.DataFrame, target: str, test_rows: int, seed: int) -> Dataset:
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    (project / "data").mkdir(parents=True, exist_ok=True)
    dataset = Dataset(project, target)
    shuffled.iloc[test_rows:].to_csv(dataset.train_path, index=False)
    shuffled.iloc[:test_rows].to_csv(dataset.test_path, index=False)
    return dataset


def _blank(values: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """``values`` as floats (or objects) with ``count`` random cells set to NaN."""
    out = values.astype(object if values.dtype.kind in "OUS" else float)
    out[rng.choice(len(out), size=count, replace=False)] = np.nan
    return out


def penguins(project: Path, seed: int = 0) -> Dataset:
    """344 penguins of three species (275 train rows, 69 test rows), like the Palmer data set.

    Measurements differ by species; Gentoo live on Biscoe only, Chinstrap on Dream only; ``sex``
    has 11 missing values and each measurement two, as in the original.
    """
    rng = np.random.default_rng(seed)
    counts = {"Adelie": 152, "Chinstrap": 68, "Gentoo": 124}
    # species: (bill length, bill depth, flipper length, body mass) means and spreads
    shape = {
        "Adelie": ((38.8, 2.7), (18.3, 1.2), (190.0, 6.5), (3700.0, 460.0)),
        "Chinstrap": ((48.8, 3.3), (18.4, 1.1), (196.0, 7.1), (3730.0, 380.0)),
        "Gentoo": ((47.5, 3.1), (15.0, 1.0), (217.0, 6.5), (5080.0, 500.0)),
    }
    islands = {
        "Adelie": (["Biscoe", "Dream", "Torgersen"], [0.29, 0.37, 0.34]),
        "Chinstrap": (["Dream"], [1.0]),
        "Gentoo": (["Biscoe"], [1.0]),
    }
    parts = []
    for species, count in counts.items():
        bill_length, bill_depth, flipper, mass = (
            rng.normal(mean, spread, count) for mean, spread in shape[species]
        )
        names, shares = islands[species]
        parts.append(
            pd.DataFrame(
                {
                    "island": rng.choice(names, size=count, p=shares),
                    "bill_length_mm": bill_length.round(1),
                    "bill_depth_mm": bill_depth.round(1),
                    "flipper_length_mm": flipper.round().astype(int),
                    "body_mass_g": (mass / 25).round().astype(int) * 25,
                    "sex": rng.choice(["male", "female"], size=count),
                    "species": species,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["sex"] = _blank(frame["sex"].to_numpy(), rng, 11)
    for column in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"):
        frame[column] = _blank(frame[column].to_numpy(), rng, 2)
    return _write(project, frame, "species", test_rows=69, seed=seed)


def shoppers(project: Path, seed: int = 0) -> Dataset:
    """2,000 web sessions (1,500 train, 500 test), about 8 % ending in a purchase.

    The target ``outcome`` is ``bought`` or ``not_bought``: string labels with no obvious
    positive class. Pages viewed, time on site and the email channel carry the signal.
    """
    rng = np.random.default_rng(seed)
    rows = 2000
    channel = rng.choice(["search", "ads", "email", "social"], size=rows, p=[0.4, 0.3, 0.1, 0.2])
    device = rng.choice(["mobile", "desktop", "tablet"], size=rows, p=[0.55, 0.35, 0.1])
    region = rng.choice(["north", "south", "east", "west"], size=rows)
    pages = rng.poisson(5, rows) + 1
    minutes = rng.gamma(2.0, 3.0, rows).round(2)
    age = rng.integers(18, 80, rows)
    returning = rng.random(rows) < 0.3
    logit = (
        -3.65
        + 0.45 * (pages - 6)
        + 0.25 * (minutes - 6)
        + 1.5 * (channel == "email")
        + 0.8 * returning
        + rng.normal(0, 0.5, rows)
    )
    bought = rng.random(rows) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "channel": channel,
            "device": device,
            "region": region,
            "pages_viewed": pages,
            "minutes_on_site": _blank(minutes, rng, 40),
            "age": age,
            "returning": returning,
            "outcome": np.where(bought, "bought", "not_bought"),
        }
    )
    return _write(project, frame, "outcome", test_rows=500, seed=seed)


CONDITIONS = ["poor", "fair", "good", "excellent"]
ENERGY = ["A", "B", "C", "D", "E", "F", "G"]


def houses(project: Path, seed: int = 0) -> Dataset:
    """600 house sales (450 train, 150 test): ``price`` from size, rooms and two ordered
    categoricals (``condition`` poor < fair < good < excellent, ``energy_class`` A < ... < G)."""
    rng = np.random.default_rng(seed)
    rows = 600
    size = rng.normal(120, 35, rows).clip(35, 320).round()
    rooms = np.clip((size / 30).round() + rng.integers(-1, 2, rows), 1, 10).astype(int)
    condition = rng.choice(len(CONDITIONS), size=rows, p=[0.1, 0.3, 0.4, 0.2])
    energy = rng.choice(len(ENERGY), size=rows, p=[0.08, 0.17, 0.25, 0.22, 0.14, 0.09, 0.05])
    built = rng.integers(1950, 2024, rows)
    price = (
        2_400 * size
        + 9_000 * rooms
        + 25_000 * condition
        - 12_000 * energy
        + 800 * (built - 1950)
        + rng.normal(0, 20_000, rows)
    )
    frame = pd.DataFrame(
        {
            "size_m2": size,
            "rooms": rooms,
            "condition": np.asarray(CONDITIONS)[condition],
            "energy_class": np.asarray(ENERGY)[energy],
            "year_built": built,
            "garden": _blank(rng.choice(["yes", "no"], size=rows), rng, 30),
            "price": (price / 1000).round() * 1000,
        }
    )
    return _write(project, frame, "price", test_rows=150, seed=seed)
