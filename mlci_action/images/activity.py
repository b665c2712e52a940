"""Where a Docker build's, pull's or push's output goes: all of it to a log file, a tally of it
(build steps; layers and bytes) to whoever shows progress. None of it reaches the console."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO


@dataclass(frozen=True)
class DockerEvent:
    """One item of a build, pull or push stream, as mlci reads it."""

    text: str = ""
    """A line for the log ('' for an item that only reports progress)."""
    step: int | None = None
    steps: int | None = None
    """A build's ``Step 3/7``."""
    layer: str | None = None
    """A pull's or push's layer id, with the bytes moved of it so far and its size."""
    current: int | None = None
    total: int | None = None
    done: bool = False
    """The layer is there (pushed, pulled, or already present)."""


LogSink = Callable[[DockerEvent], None]
"""Where a build's, pull's or push's events go (:func:`mlci_action.images.docker_api.read_event`
makes them): :class:`Activity` writes them to a log file and tallies them for a progress bar."""


@dataclass(frozen=True)
class Tally:
    """How far a build (steps) or a pull/push (layers, bytes) has come."""

    step: int = 0
    steps: int | None = None
    layers: int = 0
    layers_done: int = 0
    current: int = 0
    """Bytes moved so far, over the layers whose size the engine reported."""
    total: int = 0

    @property
    def completed(self) -> float:
        return float(self.step if self.steps else self.current if self.total else 0)

    @property
    def size(self) -> float | None:
        """What :attr:`completed` counts up to; None while unknown (a spinner, not a bar)."""
        return float(self.steps) if self.steps else float(self.total) if self.total else None

    def describe(self) -> str:
        if self.steps:
            return f"step {self.step}/{self.steps}"
        if not self.layers:
            return ""
        text = f"{self.layers_done}/{self.layers} layers"
        if self.total:
            text += f", {self.current / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        return text


class Activity:
    """A :data:`~mlci_action.images.docker_api.LogSink`: each event's line to ``log`` (when
    given), and the tally so far to ``show`` (when given). Use it as a context manager."""

    def __init__(self, log: Path | None, show: Callable[[Tally], None] | None = None) -> None:
        self.log = log
        self._show = show
        self._file: IO[str] | None = None
        self._layers: dict[str, tuple[int, int, bool]] = {}
        self.tally = Tally()

    def __enter__(self) -> Activity:
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.log.open("a", encoding="utf-8")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __call__(self, event: DockerEvent) -> None:
        if event.text and self._file is not None:
            self._file.write(event.text + "\n")
            self._file.flush()
        tally = self.tally
        if event.steps:
            tally = Tally(step=event.step or 0, steps=event.steps)
        elif event.layer is not None:
            current, total, done = self._layers.get(event.layer, (0, 0, False))
            if event.total:
                current, total = event.current or 0, event.total
            if event.done:
                current, done = total, True
            self._layers[event.layer] = (current, total, done)
            layers = self._layers.values()
            tally = Tally(
                layers=len(self._layers),
                layers_done=sum(1 for _, _, d in layers if d),
                current=sum(c for c, _, _ in layers),
                total=sum(t for _, t, _ in layers),
            )
        if tally != self.tally:
            self.tally = tally
            if self._show is not None:
                self._show(tally)
