"""Load a YAML mapping and remember the line of every key, so errors can name it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlci_action.errors import ConfigError

Loc = tuple[str | int, ...]

# PyYAML quotes pieces of the document in some problems (an alias, an anchor or a tag name:
# "found undefined alias 'x'"); its own token names ('<stream end>') and single characters
# ("found character '\\t'") are no content worth hiding
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_HARMLESS = re.compile(r"<[a-z ]+>|.|\\(?:[abfnrtv0]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, str]:
    """``(":LINE:COLUMN" or "", problem)`` of a YAML error, without the document's text.

    ``str(exc)`` quotes the offending lines of the file; this never does, and it blanks the
    names PyYAML copies from the document into the problem, so an error message cannot show a
    file's contents.
    """
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None)
    if not isinstance(problem, str) or not problem:
        return where, f"the YAML reader stopped ({type(exc).__name__})"
    return where, _QUOTED.sub(_blank, problem)


def _blank(match: re.Match[str]) -> str:
    text = match.group(1) if match.group(1) is not None else match.group(2)
    return match.group(0) if _HARMLESS.fullmatch(text) else "(text not shown)"


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int | None:
        """The line (1-based) of the deepest known key on ``loc``."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines)


def load_yaml(path: Path) -> YamlDocument:
    """Read ``path`` as one YAML document; any problem is a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.__class__.__name__})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where, problem = yaml_problem(exc)
        raise ConfigError(
            f"{path}{where}: not valid YAML: {problem}",
            hint="check the indentation and quoting around that line",
        ) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDocument(path=path, data=data, lines=lines)
