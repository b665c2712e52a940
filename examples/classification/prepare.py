"""data.prepare: add labelled live rows to the training set before mlci hashes the data.

mlci runs this (`data.prepare` in mlci.yaml) on trusted runs only: a push, the schedule or a
workflow_dispatch on the default branch, e.g. the retraining the monitor starts. It reads
every CSV in data/live/ (rows the serving image logged, labelled since, with the training
file's columns) and appends the rows the training file does not hold yet. Without
data/live/ it changes nothing, so it is harmless on a fresh checkout.
"""

import os
import sys
from pathlib import Path

import pandas as pd

LIVE = Path("data/live")


def main() -> int:
    train_path = Path(os.environ.get("MLCI_TRAIN_PATH", "data/train.csv"))
    files = sorted(LIVE.glob("*.csv")) if LIVE.is_dir() else []
    if not files:
        print(f"no labelled live rows in {LIVE}/: the training set is unchanged")
        return 0
    train = pd.read_csv(train_path)
    frames = []
    for path in files:
        live = pd.read_csv(path)
        missing = sorted(set(train.columns) - set(live.columns))
        if missing:
            print(f"{path}: lacks the columns {', '.join(missing)}", file=sys.stderr)
            return 2
        frames.append(live[list(train.columns)])
    fresh = pd.concat(frames, ignore_index=True).drop_duplicates()
    seen = train.merge(fresh, how="right", indicator=True)
    new = fresh[(seen["_merge"] == "right_only").to_numpy()]
    if new.empty:
        print("every labelled live row is in the training set already")
        return 0
    partial = train_path.with_suffix(".partial")
    pd.concat([train, new], ignore_index=True).to_csv(partial, index=False)
    partial.replace(train_path)
    print(f"added {len(new)} labelled live rows from {len(files)} files to {train_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
