"""Write the example projects' train/test CSVs from scikit-learn's bundled datasets.

Deterministic (fixed seed, floats rounded to 6 decimals), so rerunning it changes nothing:

    python scripts/make_example_data.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = 0
DIABETES_NAMES = {"s1": "tc", "s2": "ldl", "s3": "hdl", "s4": "tch", "s5": "ltg", "s6": "glu"}


def breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    """30 cell-nucleus measurements; ``diagnosis`` is 1 for malignant, 0 for benign."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.rename(columns=lambda name: name.replace(" ", "_"))
    # scikit-learn codes malignant as 0; the example makes the class to detect the positive one
    frame["diagnosis"] = (bunch.target == 0).astype("int64")
    return frame, frame["diagnosis"]


def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    """Ten baseline variables in their original units; ``progression`` one year later."""
    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.data.rename(columns=DIABETES_NAMES)
    frame["progression"] = bunch.target
    return frame, pd.qcut(frame["progression"], q=5, labels=False)


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Round floats to 6 decimals and store whole-number columns as integers."""
    frame = frame.round(6)
    for name in frame.columns:
        if frame[name].dtype.kind == "f" and (frame[name] % 1 == 0).all():
            frame[name] = frame[name].astype("int64")
    return frame


def write(name: str, frame: pd.DataFrame, strata: pd.Series) -> None:
    train, test = train_test_split(tidy(frame), test_size=0.2, random_state=SEED, stratify=strata)
    folder = EXAMPLES / name / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("test", test)):
        path = folder / f"{split}.csv"
        rows.to_csv(path, index=False, lineterminator="\n")
        print(f"{path.relative_to(EXAMPLES.parent)}: {len(rows)} rows")


def main() -> int:
    write("classification", *breast_cancer())
    write("regression", *diabetes())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
