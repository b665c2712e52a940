"""Training parameters: merged from mlci.yaml and a params file, flattened, diffed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlci_action.config import Config
from mlci_action.errors import ConfigError
from mlci_action.paths import confined, project_document
from mlci_action.yamlfile import yaml_problem


def load_params(project: Path, config: Config) -> dict[str, Any]:
    """``training.params_file`` (which must lie inside ``project``), then ``training.params``.

    Errors name the file, line and column, never its text: the file is a pull request's.
    """
    merged: dict[str, Any] = {}
    if config.training.params_file:
        name = config.training.params_file
        confined(project, name, "training.params_file", project_document(project))
        path = project / name
        if not path.is_file():
            raise ConfigError(
                f"{path}: training.params_file not found", hint="create it or remove the key"
            )
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(
                f"{path}: training.params_file is not UTF-8 text", hint="save it as UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"{path}: training.params_file cannot be read ({type(exc).__name__})"
            ) from None
        except yaml.YAMLError as exc:
            where, problem = yaml_problem(exc)
            raise ConfigError(
                f"{path}{where}: training.params_file is not valid YAML/JSON: {problem}",
                hint="check the indentation and quoting at that line and column",
            ) from None
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"{path}: training.params_file must hold a mapping of parameters "
                f"(it holds {'nothing' if loaded is None else type(loaded).__name__})"
            )
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
