"""Escaping for anything that came from a pull request before it reaches markdown.

A PR controls column names, metric values, test names and log lines. Escaped, none of it can
open HTML, links, images, mentions, emphasis, code spans or table cells in a GitHub comment.
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "&#64;", ":": "&#58;", '"': "&quot;"}
_ENTITY_RE = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")


def md(value: object) -> str:
    """One line of inline markdown, safe inside a table cell."""
    text = " ".join(str(value).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _ENTITY_RE.sub(lambda m: _ENTITIES[m.group()], text)


def pre(value: object) -> str:
    """A block of log text for an HTML <pre>: no tags, no mentions, no closing the block."""
    text = str(value)
    for char in "&<>@":
        text = text.replace(char, _ENTITIES[char])
    return text
