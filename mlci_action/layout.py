"""Names of the files a run lays out in its work directory, its out dir and a run-cache entry:
shared by the stages that write them and the commands that publish or reuse them."""

from __future__ import annotations

SMOKE_CASES = "smoke-cases.json"
"""In the run's work directory: test rows and the candidate's answers for the smoke test."""
CANDIDATE_MODEL, BASELINE_MODEL = "models/candidate.skops", "models/baseline.skops"
"""In the out dir, in a run-cache entry, and in the work directory of a run that reuses one."""
PREDICTIONS = "predictions.csv"
"""The test rows' predictions, written by evaluate, published beside the report."""
REFERENCE_IN_IMAGE = "/opt/mlci/model/reference.json"
"""In the serving image: the reference profile, next to the model (``MLCI_REFERENCE``)."""
