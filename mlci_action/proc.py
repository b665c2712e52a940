"""The one place mlci starts subprocesses: it records the command, exit code and output tail."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 40


@dataclass(frozen=True)
class ProcResult:
    argv: tuple[str, ...]
    returncode: int
    output: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log: Path | None = None,
    inherit: bool = True,
) -> ProcResult:
    """Run ``argv`` (never through a shell); stdout and stderr merged, optionally teed to ``log``.

    ``env`` is added to mlci's own environment, or with ``inherit=False`` is the whole of it
    (the project's code: see :mod:`mlci_action.executors.environ`)."""
    started = time.perf_counter()
    full_env = {**(os.environ if inherit else {}), **(env or {})}
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
        output = completed.stdout.decode("utf-8", "replace")
        code, timed_out = completed.returncode, False
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(
            "utf-8", "replace"
        ) + f"\n[mlci] timed out after {timeout}s"
        code, timed_out = -1, True
    except FileNotFoundError:
        output = f"[mlci] command not found: {argv[0]}"
        code, timed_out = 127, False
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output, encoding="utf-8")
    return ProcResult(tuple(argv), code, output, time.perf_counter() - started, timed_out)
