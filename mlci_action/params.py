"""Training parameters: merged from mlci.yaml and a params file, flattened, diffed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlci_action.config import Config
from mlci_action.errors import ConfigError


def load_params(project: Path, config: Config) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if config.training.params_file:
        path = project / config.training.params_file
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{path}: training.params_file is not valid YAML/JSON: {exc}"
            ) from None
        if not path.is_file():
            raise ConfigError(
                f"{path}: training.params_file not found", hint="create it or remove the key"
            )
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: training.params_file must hold a mapping of parameters")
        merged.update(loaded)
    merged.update(config.training.params)
    return merged


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


def diff(
    baseline: dict[str, Any] | None, candidate: dict[str, Any]
) -> dict[str, dict[str, str | None]]:
    before, after = flatten(baseline or {}), flatten(candidate)
    return {
        name: {"baseline": before.get(name), "candidate": after.get(name)}
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    }
