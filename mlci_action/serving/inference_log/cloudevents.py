"""The CloudEvents sink, in KServe's inference-logger format (kserve pkg/logger).

For each logged request two HTTP POSTs in CloudEvents *binary* content mode, as KServe's
logger sends them: the V2 inference request, then the V2 response, each with

``ce-specversion: 1.0``, ``ce-id: <request id>`` (the same for both, KServe's join key),
``ce-type: org.kubeflow.serving.inference.request`` / ``...inference.response``,
``ce-source: <model name>`` URI reference, ``ce-time``, the KServe extension attributes
``ce-inferenceservicename`` (the model name), ``ce-component: predictor``,
``ce-endpoint`` (``default``) and ``ce-namespace`` ($POD_NAMESPACE when set), and the body as
``application/json``.

Where mlci differs: KServe forwards the raw bytes the client sent (a /predict body or a
binary-tensor request stays as it was); mlci rebuilds a V2 JSON request from the decoded
columns, so a collector always reads one shape. Sent from the writer thread with a short
timeout, never retried: a failure is counted and the next request goes on.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping

from mlci_action.serving import protocol
from mlci_action.serving.inference_log.records import VERSION, Entry, rfc3339

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"


def request_body(entry: Entry) -> bytes:
    rows = entry.rows
    inputs = []
    for feature in entry.model.features:
        tensor = protocol.output_tensor(feature.name, entry.frame[feature.name].to_numpy())
        tensor["datatype"] = feature.datatype
        tensor["data"] = [
            None if isinstance(v, float) and v != v else v for v in tensor["data"]
        ]  # NaN is not JSON: a missing value is null
        tensor["shape"] = [rows]
        inputs.append(tensor)
    return protocol.encode({"id": entry.request_id, "inputs": inputs})


def response_body(entry: Entry) -> bytes:
    outputs = entry.model.outputs(entry.prediction)
    return protocol.encode(
        {
            "model_name": entry.model.name,
            "model_version": VERSION,
            "id": entry.request_id,
            "outputs": [protocol.output_tensor(name, array) for name, array in outputs.items()],
        }
    )


def headers(entry: Entry, kind: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    found = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": entry.request_id,
        "ce-type": kind,
        "ce-source": f"/mlci/serving/{entry.model.name}",
        "ce-time": rfc3339(entry.time),
        "ce-inferenceservicename": entry.model.name,
        "ce-component": "predictor",
        "ce-endpoint": "default",
    }
    namespace = environ.get("POD_NAMESPACE", "")
    if namespace:
        found["ce-namespace"] = namespace
    return found


class CloudEventsSink:
    name = "cloudevents"

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def send(self, entry: Entry) -> None:
        """Both events of one request; raises OSError (URLError, a timeout, a non-2xx)."""
        for kind, body in (
            (REQUEST_TYPE, request_body(entry)),
            (RESPONSE_TYPE, response_body(entry)),
        ):
            post = urllib.request.Request(
                self.url, data=body, headers=headers(entry, kind), method="POST"
            )
            with urllib.request.urlopen(post, timeout=self.timeout_s) as answer:
                answer.read()
