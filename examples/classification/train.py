"""Train the breast-cancer classifier.

mlci runs this with MLCI_* environment variables; without them it trains on data/train.csv
with the default parameters and writes model.skops, so `python train.py` works on its own.
"""

import json
import os

import pandas as pd
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DEFAULTS = {"C": 1.0, "max_iter": 1000}


def main() -> None:
    train_path = os.environ.get("MLCI_TRAIN_PATH", "data/train.csv")
    target = os.environ.get("MLCI_TARGET", "diagnosis")
    model_path = os.environ.get("MLCI_MODEL_PATH", "model.skops")
    seed = int(os.environ.get("MLCI_SEED", "42"))
    params = dict(DEFAULTS)
    if "MLCI_PARAMS_PATH" in os.environ:
        with open(os.environ["MLCI_PARAMS_PATH"], encoding="utf-8") as file:
            params.update(json.load(file))

    train = pd.read_csv(train_path)
    X, y = train.drop(columns=[target]), train[target]
    print(f"training on {len(train)} rows, {X.shape[1]} features, params {params}")
    model = make_pipeline(StandardScaler(), LogisticRegression(random_state=seed, **params))
    model.fit(X, y)
    print(f"train accuracy {model.score(X, y):.3f}")

    skops.io.dump(model, model_path)
    print(f"model written to {model_path}")


if __name__ == "__main__":
    main()
