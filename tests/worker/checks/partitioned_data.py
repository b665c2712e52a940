"""A small Parquet data set split in many files, and the same rows in one file per data set:
the partitioned data tests must give the one-file result (tests/worker and tests/ray)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

SCHEMA = """
import pandera.pandas as pa
from pandera.typing import Series


class Rows(pa.DataFrameModel):
    radius: Series[float] = pa.Field(ge=0, le=40, nullable=False)
    kind: Series[str] = pa.Field(isin=["benign", "malignant"])
    label: Series[int] = pa.Field(isin=[0, 1])

    @pa.dataframe_check
    def radius_vs_label(cls, frame):
        return frame["radius"] < frame["label"] + 30
"""
LEAKED = 13
DUPLICATED = 17
"""Rows of each data set that repeat another of its rows (at most: a leaked row may land
on one)."""
UNSEEN = 8
"""Test rows whose site the training data never has."""


def frames(rows: int = 3000, test_rows: int = 900) -> tuple[pd.DataFrame, pd.DataFrame]:
    generator = np.random.default_rng(11)

    def make(n: int) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "radius": generator.uniform(1, 35, n).round(6),
                "kind": generator.choice(["benign", "malignant"], n).astype(object),
                "label": generator.integers(0, 2, n),
            }
        )
        bad = generator.choice(n, n // 40, replace=False)
        frame.loc[bad, "radius"] = -generator.uniform(0.5, 2, len(bad)).round(6)
        frame.loc[generator.choice(n, n // 90, replace=False), "kind"] = "`</details>` -->"
        frame["site"] = generator.choice(["north", "south", "east"], n).astype(object)
        frame["source"] = "export-7"  # one value in every row: the constant check
        # rows repeated, spread over the files (the duplicates check)
        copies = generator.choice(n, 2 * DUPLICATED, replace=False)
        frame.iloc[copies[DUPLICATED:]] = frame.iloc[copies[:DUPLICATED]].to_numpy()
        return frame

    train, test = make(rows), make(test_rows)
    # categories only the test data has (one of them hostile), spread over its files
    test.loc[generator.choice(test_rows, UNSEEN, replace=False), "site"] = [
        "west",
        '"]; click x %%{init}%%',
    ] * (UNSEEN // 2)
    # leaked rows, spread over the test set, copied from rows spread over the training set
    test.iloc[generator.choice(test_rows, LEAKED, replace=False)] = train.iloc[
        generator.choice(rows, LEAKED, replace=False)
    ].to_numpy()
    return train, test.astype(train.dtypes.to_dict())


def write(project: Path, files: int = 8) -> tuple[dict[str, list[int]], pd.DataFrame, pd.DataFrame]:
    """project/data/{train,test}/ in ``files`` uneven Parquet files each, project/data/*.parquet
    the same rows in one file, project/schema.py; the sizes of each data set's files."""
    (project / "data").mkdir(parents=True)
    (project / "schema.py").write_text(SCHEMA)
    train, test = frames()
    sizes = {}
    for name, frame in (("train", train), ("test", test)):
        frame.to_parquet(project / "data" / f"{name}.parquet", index=False)
        cuts = np.sort(
            np.random.default_rng(len(name)).choice(len(frame), files - 1, replace=False)
        )
        bounds = [0, *cuts.tolist(), len(frame)]
        (project / "data" / name).mkdir()
        for at, (start, end) in enumerate(itertools.pairwise(bounds)):
            frame.iloc[start:end].to_parquet(
                project / "data" / name / f"part-{at:02d}.parquet", index=False
            )
        sizes[name] = [end - start for start, end in itertools.pairwise(bounds)]
    return sizes, train, test


def request(project: Path, train: str, test: str, partitioned: bool) -> dict[str, object]:
    """A data-tests request with the checks a partitioned data set runs (all but drift,
    which compares against a baseline)."""
    return {
        "project_dir": str(project),
        "train_path": train,
        "test_path": test,
        "target": "label",
        "task": "classification",
        "schema_spec": {"kind": "python", "path": "schema.py", "name": "Rows"},
        "checks": {"drift": {"enabled": False}, "leakage": {"max_rows": 0}},
        "partitioned": partitioned,
    }


def global_row(location: str, sizes: list[int]) -> int:
    """``data/test/part-03.parquet row 5`` -> the row's number in the one-file data set."""
    name, _, row = location.rpartition(" row ")
    part = int(name.rsplit("part-", 1)[1].split(".")[0])
    return sum(sizes[:part]) + int(row)
