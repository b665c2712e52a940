"""Every path named in mlci.yaml stays inside the project directory.

mlci reads the files mlci.yaml names on the host (the params file into the report, data files
into containers, requirements and the Dockerfile into build contexts), and a pull request
writes mlci.yaml. So a path that leads out of the project (an absolute path, ``..``, or a
symbolic link pointing elsewhere) would let a pull request read host files: each path is
resolved, links followed, and refused at entry unless it lies inside the project directory.
The error names mlci.yaml's line and the key, never anything read from the file.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath
from typing import Any

from mlci_action.config import CONFIG_FILE, Config
from mlci_action.errors import ConfigError
from mlci_action.globs import split_glob
from mlci_action.yamlfile import Loc, YamlDocument, load_yaml

HINT = (
    "keep data, schemas, params, requirements, tests and the Dockerfile inside the project "
    "directory; copy the file into the repository"
)
_ITEM = re.compile(r"^(.*)\[(\d+)\]$")


def project_document(project: Path) -> YamlDocument | None:
    """``project/mlci.yaml`` with its line numbers, or None when it is absent or unreadable."""
    path = project / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return load_yaml(path)
    except ConfigError:
        return None


def _loc(key: str) -> Loc:
    """``environment.requirements[1]`` -> ``("environment", "requirements", 1)``."""
    loc: list[str | int] = []
    for part in key.split("."):
        item = _ITEM.match(part)
        if item:
            loc += [item.group(1), int(item.group(2))]
        else:
            loc.append(part)
    return tuple(loc)


def _written(doc: YamlDocument, loc: Loc) -> Any:
    value: Any = doc.data
    for part in loc:
        found = (isinstance(part, int) and isinstance(value, list) and part < len(value)) or (
            isinstance(part, str) and isinstance(value, dict) and part in value
        )
        if not found:
            return None
        value = value[part]
    return value


def _where(project: Path, doc: YamlDocument | None, loc: Loc, written: str) -> str:
    """``.../mlci.yaml:LINE`` when the document holds ``written`` at ``loc``, else the file.

    The action may hand over a config changed after loading (its inputs); a line that holds
    another value would point at the wrong place.
    """
    if doc is not None and _written(doc, loc) == written:
        line = doc.line_of(loc)
        if line is not None:
            return f"{doc.path}:{line}"
    return str(doc.path if doc is not None else project / CONFIG_FILE)


def _resolve(path: Path) -> Path:
    """``path`` with every symbolic link followed; a path that does not exist (yet) has its
    existing part resolved (``Path.resolve`` does both)."""
    return path.resolve()


def _why_outside(project: Path, root: Path, value: str) -> str:
    """Which step of ``value`` leaves the project: the first link pointing outside, or ``..``."""
    parts = PurePath(value).parts
    for index, part in enumerate(parts):
        step = project.joinpath(*parts[: index + 1])
        if step.is_symlink() and not _resolve(step).is_relative_to(root):
            shown = PurePath(*parts[: index + 1]).as_posix()
            return f"{shown!r} is a symbolic link pointing outside it"
        if part == ".." and not _resolve(step).is_relative_to(root):
            return "'..' climbs above it"
    return "it resolves to a place outside it"


def confined(
    project: Path,
    value: str,
    key: str,
    doc: YamlDocument | None = None,
    *,
    written: str | None = None,
) -> Path:
    """``value`` (a path from mlci.yaml, relative to ``project``), resolved; it must lie inside
    the project directory, else a :class:`ConfigError` names ``mlci.yaml:LINE``, ``key`` and why.

    ``key`` is the dotted key (``environment.requirements[1]`` for a list item); ``written`` is
    the value as mlci.yaml spells it when that is more than the path (``data.schema``'s
    ``file.py:Class``).
    """
    where = f"{_where(project, doc, _loc(key), value if written is None else written)}: {key}"
    root = _resolve(project)
    if PurePath(value).is_absolute():
        try:
            inside = _resolve(Path(value)).is_relative_to(root)
        except (OSError, RuntimeError, ValueError):
            inside = False
        raise ConfigError(
            f"{where}: {value!r} is an absolute path"
            + (
                " (inside the project here, but it names another place on any other machine)"
                if inside
                else ", outside the project directory"
            ),
            hint=f"write it relative to the project directory; {HINT}",
        )
    try:
        resolved = _resolve(project / value)
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop, a NUL character
        raise ConfigError(
            f"{where}: {value!r} cannot be resolved ({type(exc).__name__}: a symbolic link "
            "loop or a character no path may hold)",
            hint=HINT,
        ) from None
    if not resolved.is_relative_to(root):
        raise ConfigError(
            f"{where}: {value!r} leads outside the project directory: "
            f"{_why_outside(project, root, value)}",
            hint=HINT,
        )
    return resolved


def path_keys(config: Config) -> list[tuple[str, str, str]]:
    """``(key, path, as written)`` of every path in the config, relative to the project."""
    data, env = config.data, config.environment
    keys = [("data.train", data.train, data.train), ("data.test", data.test, data.test)]
    if data.schema_:
        keys.append(("data.schema", data.schema_.partition(":")[0], data.schema_))
    if config.training.params_file:
        params = config.training.params_file
        keys.append(("training.params_file", params, params))
    keys += [(f"environment.requirements[{i}]", n, n) for i, n in enumerate(env.requirements)]
    if env.lock:
        keys.append(("environment.lock", env.lock, env.lock))
    if config.model_tests is not None:
        keys.append(("model_tests.path", config.model_tests.path, config.model_tests.path))
    if config.deploy.dockerfile:
        keys.append(("deploy.dockerfile", config.deploy.dockerfile, config.deploy.dockerfile))
    return keys


def check_paths(project: Path, config: Config, doc: YamlDocument | None = None) -> None:
    """Refuse any path in ``config`` that leads out of ``project`` (see :func:`confined`).

    ``doc`` gives the line numbers; by default ``project/mlci.yaml`` is read for them. Call it
    for every checked-out project whose files mlci reads (the candidate, a baseline).
    """
    if doc is None:
        doc = project_document(project)
    for key, value, written in path_keys(config):
        if key in ("data.train", "data.test"):
            if "://" in value:
                continue  # a URL: read where it lives (file:// on the cluster's shared mount)
            value = split_glob(value)[0]  # a glob: the folder it lists must be inside
        confined(project, value, key, doc, written=written)


def located(project: Path, key: str, value: str) -> str:
    """``.../mlci.yaml:LINE: key``, for a message about the setting ``key`` set to ``value``."""
    return f"{_where(project, project_document(project), _loc(key), value)}: {key}"
