"""GitHub Actions workflow commands and files: groups, annotations, masks, outputs, summary.

Every value is escaped as the runner expects (``%``, CR and LF in messages; also ``:`` and
``,`` in properties), so a PR-controlled string cannot end a command or start another.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def _data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(value: str) -> str:
    return _data(value).replace(":", "%3A").replace(",", "%2C")


class Workflow:
    """Writes workflow commands to ``out`` and the files named by GITHUB_OUTPUT / _STEP_SUMMARY."""

    def __init__(self, environ: Mapping[str, str] = os.environ, out: TextIO = sys.stdout) -> None:
        self.environ = environ
        self.out = out

    def command(self, name: str, message: str = "", **properties: str | int | None) -> None:
        props = ",".join(f"{k}={_property(str(v))}" for k, v in properties.items() if v is not None)
        self.out.write(f"::{name}{' ' + props if props else ''}::{_data(message)}\n")
        self.out.flush()

    def mask(self, secret: str | None) -> None:
        if secret:
            for line in secret.splitlines():  # a multi-line secret is masked line by line
                if line.strip():
                    self.command("add-mask", line)

    def error(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        title: str | None = None,
    ) -> None:
        self.command("error", message, file=file, line=line, title=title)

    def warning(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.command("warning", message, file=file, line=line)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.command("group", title)
        try:
            yield
        finally:
            self.command("endgroup")

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """Output that came from the pull request's code or data goes between
        ``::stop-commands::TOKEN`` and ``::TOKEN::``: with a fresh random token the runner
        takes no workflow command from it (no mask, no fake annotation, no stop-commands of
        its own), and mlci's own commands work again right after."""
        token = f"mlci-{secrets.token_hex(16)}"
        self.out.write(f"::stop-commands::{token}\n")
        self.out.flush()
        try:
            yield
        finally:
            self.out.flush()
            self.out.write(f"\n::{token}::\n")
            self.out.flush()

    def set_output(self, name: str, value: str) -> None:
        path = self.environ.get("GITHUB_OUTPUT")
        if not path:
            return
        delimiter = f"mlci_{secrets.token_hex(8)}"
        while delimiter in value:
            delimiter = f"mlci_{secrets.token_hex(8)}"
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        path = self.environ.get("GITHUB_STEP_SUMMARY")
        if path:
            with Path(path).open("a", encoding="utf-8") as handle:
                handle.write(markdown.rstrip("\n") + "\n")
