"""`mlci schema`: the JSON Schema of mlci.yaml, for editor completion."""

from __future__ import annotations

import json

from mlci_action.config import json_schema


def print_schema() -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0
