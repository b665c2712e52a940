"""The .gitignore entry for mlci's own files (.mlci/: run output, images, caches)."""

from __future__ import annotations

ENTRY = ".mlci/"
_SAME = {".mlci", ".mlci/", "/.mlci", "/.mlci/", ".mlci/*", "/.mlci/*"}


def with_entry(text: str | None) -> str | None:
    """``text`` (a .gitignore, or None when there is none) with ``.mlci/`` appended; None if
    it already ignores it."""
    lines = (text or "").splitlines()
    if any(line.strip() in _SAME for line in lines):
        return None
    body = (text or "").rstrip("\n")
    block = "# mlci: run output, images and caches (`mlci init`)\n" + ENTRY + "\n"
    return f"{body}\n\n{block}" if body else block
