"""mlci's prediction server and its smoke-test client.

``python -m mlci_action.serving --model model.skops --name NAME`` serves one scikit-learn model
over the Open Inference Protocol (KServe V2 REST), so the image runs unchanged under KServe or
Seldon, plus ``POST /predict`` for JSON records and ``GET /metrics`` for Prometheus.
"""
