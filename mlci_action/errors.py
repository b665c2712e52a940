"""The one exception family of mlci, caught once in :func:`mlci_action.cli.main`."""

from __future__ import annotations


class MlciError(Exception):
    """An expected failure. ``exit_code`` is what the CLI returns for it."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(MlciError):
    """mlci.yaml (or another input file) is unusable: exit 2, nothing written."""


class InputError(MlciError):
    """An input other than the config is unusable (data, a git ref, a directory): exit 2."""


class StageFailure(MlciError):
    """A stage ran and failed: the run goes on, the verdict is fail (exit 1)."""

    exit_code = 1

    def __init__(self, message: str, *, log_tail: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.log_tail = log_tail
