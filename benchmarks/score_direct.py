"""The "by hand" side of the overhead benchmark: load the trained model and score it.

    python score_direct.py MODEL TEST_CSV TARGET

What a team without mlci would run after `python train.py`: the same four metrics mlci
reports for the classification example, computed once (no bootstrap, no baseline).
"""

from __future__ import annotations

import sys

import pandas as pd
import skops.io
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score


def main() -> None:
    model_path, test_path, target = sys.argv[1:4]
    model = skops.io.load(model_path, trusted=skops.io.get_untrusted_types(file=model_path))
    test = pd.read_csv(test_path)
    y = test.pop(target)
    predicted = model.predict(test)
    proba = model.predict_proba(test)[:, 1]
    print(
        f"accuracy {accuracy_score(y, predicted):.4f} f1 {f1_score(y, predicted):.4f} "
        f"roc_auc {roc_auc_score(y, proba):.4f} log_loss {log_loss(y, proba):.4f}"
    )


if __name__ == "__main__":
    main()
