"""The inference log: ``submit`` after predict (on the request path: a coin toss and a
``put_nowait``), a writer thread that does everything else.

The request thread enqueues references to the frame and the model's arrays it already has
(an :class:`Entry`). The writer wakes rarely: it takes what is queued, and for up to
``LINGER_S`` more whatever comes in (at most ``BATCH`` requests), makes one column-wise
:class:`~.batch.Batch` of them, writes it to the file sink in one call (:mod:`.jsonl`,
:mod:`.parquet`), counts the outcome, and hands the columns to the drift window (which keeps
them by reference); the gauges (the window bins what waits, then a PSI per column) are
recomputed at most every ``GAUGE_S``. Per row it does no
Python work, so the time it takes from the event loop and predict (one GIL, two cores) stays
small (benchmarks/README.md, "Inference logging on vs off"). A full
queue drops the request's rows and counts them; a failing sink counts its rows as failed and
is logged at most once a minute; neither ever reaches the client. One writer per server
process, started in that process (after the fork).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry

from mlci_action.monitoring.sliding import NumericReference, Window
from mlci_action.serving.inference_log.batch import Batch, batch_of
from mlci_action.serving.inference_log.cloudevents import CloudEventsSink
from mlci_action.serving.inference_log.files import RotatingFiles
from mlci_action.serving.inference_log.metrics import LogMetrics
from mlci_action.serving.inference_log.records import Entry
from mlci_action.serving.inference_log.settings import LogSettings
from mlci_action.serving.model import Prediction, ServedModel

log = logging.getLogger("mlci.serving")

BATCH = 256
"""Requests the writer takes off the queue at once, at most..."""
MAX_ROWS = 4096
"""... or rows (a 1,000-row request is one entry)."""
LINGER_S = 0.05
"""How long the writer lets requests gather after the first, so that it wakes (and takes the
GIL) once for many single-row requests rather than once for each."""
GAUGE_S = 1.0
"""The drift gauges are recomputed at most this often while requests come in..."""
IDLE_S = 0.2
"""... and after this long without one."""
_QUIET_S = 60.0


class FileSink(Protocol):
    name: str

    def write(self, batch: Batch, image_digest: str) -> None: ...
    def tick(self) -> None: ...
    def close(self) -> None: ...


class EventSink(Protocol):
    name: str

    def send(self, entry: Entry) -> None: ...


class _Stop:
    pass


_STOP = _Stop()


class InferenceLog:
    def __init__(
        self,
        settings: LogSettings,
        registry: CollectorRegistry,
        *,
        files: FileSink | None = None,
        events: EventSink | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sample = settings.sample
        self.rng = rng or random.Random()
        self.clock = clock
        self.queue: queue.Queue[Entry | _Stop] = queue.Queue(maxsize=settings.queue)
        reference = settings.reference
        prediction = reference.prediction if reference else None
        self.metrics = LogMetrics(
            registry,
            prediction.edges[1:-1] if isinstance(prediction, NumericReference) else None,
        )
        self.files = files
        if files is None and settings.path:
            self.files = RotatingFiles(
                settings.path,
                settings.format,
                rotate_bytes=settings.rotate_bytes,
                rotate_seconds=settings.rotate_seconds,
            )
        self.events = events
        if events is None and settings.cloudevents_url:
            self.events = CloudEventsSink(settings.cloudevents_url, settings.cloudevents_timeout_s)
        size = settings.drift_window
        self.features = Window(reference.features, size) if reference and size else None
        self.predicted = (
            Window({"prediction": prediction}, size) if prediction is not None and size else None
        )
        self._quiet_until: dict[str, float] = {}
        self._gauged = 0.0
        self._stale = False
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    # the request path ------------------------------------------------------------------
    def submit(
        self,
        request_id: str,
        model: ServedModel,
        features: pd.DataFrame | np.ndarray,
        prediction: Prediction,
    ) -> None:
        """Queue one answered request for the writer, or drop it (counted) if the queue is
        full; never blocks."""
        if self.sample < 1.0 and self.rng.random() >= self.sample:
            return
        try:
            self.queue.put_nowait(Entry(request_id, self.clock(), model, features, prediction))
        except queue.Full:
            self.metrics.records.labels("dropped").inc(len(features))

    # the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self.queue.get(timeout=IDLE_S)
            except queue.Empty:
                if self._stale:
                    self._gauge()
                self._guard("files", self._tick)
                continue
            batch = self._drain(first)
            entries = [item for item in batch if isinstance(item, Entry)]
            stopping = len(entries) < len(batch)
            try:
                self._write(entries)
            except Exception:  # a bug in the writer must not end it silently
                log.exception("inference log: unexpected error writing %d request(s)", len(batch))
            finally:
                for _ in batch:
                    self.queue.task_done()
        self._guard("files", self._close_files)

    def _drain(self, first: Entry | _Stop) -> list[Entry | _Stop]:
        """``first`` and what else is queued after LINGER_S, up to BATCH requests or MAX_ROWS
        rows, or up to the stop marker."""
        batch = [first]
        if isinstance(first, Entry) and self.queue.qsize() < BATCH - 1:
            time.sleep(LINGER_S)  # one wake-up for the requests that come meanwhile
        rows = first.rows if isinstance(first, Entry) else 0
        while isinstance(batch[-1], Entry) and len(batch) < BATCH and rows < MAX_ROWS:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            rows += item.rows if isinstance(item, Entry) else 0
        return batch

    def _write(self, entries: list[Entry]) -> None:
        if not entries:
            return
        batch = batch_of(entries)
        rows = batch.rows
        failed = 0
        digest = self.settings.image_digest
        if self.files is not None and not self._guard("files", self.files.write, batch, digest):
            failed = rows  # one model per server: one write per batch
        if self.events is not None:
            for entry in entries:
                if not self._guard("cloudevents", self.events.send, entry):
                    failed += entry.rows
        failed = min(failed, rows)
        if self.files is not None or self.events is not None:
            if rows - failed:
                self.metrics.records.labels("written").inc(rows - failed)
            if failed:
                self.metrics.records.labels("failed").inc(failed)
        self._observe(batch)

    def _observe(self, batch: Batch) -> None:
        """The prediction counts and the windows once per batch (the windows only keep the
        columns); the gauges (binning what waits, a PSI per column) at most every GAUGE_S, or
        when idle."""
        self.metrics.count_predictions(batch.labels, batch.model.classes is not None)
        if self.features is not None:
            self.features.add(batch.features)
            self._stale = True
        if self.predicted is not None:
            self.predicted.add({"prediction": batch.labels})
            self._stale = True
        if time.monotonic() - self._gauged >= GAUGE_S:
            self._gauge()

    def _gauge(self) -> None:
        self._gauged, self._stale = time.monotonic(), False
        if self.features is not None:
            for name, value in self.features.psi().items():
                self.metrics.feature_gauge(name).set(value)
            self.metrics.window_rows.set(self.features.rows)
        if self.predicted is not None:
            self.metrics.prediction_psi.set(self.predicted.psi()["prediction"])

    def _tick(self) -> None:
        if self.files is not None:
            self.files.tick()

    def _close_files(self) -> None:
        if self.files is not None:
            self.files.close()

    def _guard(self, sink: str, action: Callable[..., object], *args: Any) -> bool:
        """Run one sink action; a failure is counted and logged at most once a minute."""
        try:
            action(*args)
            return True
        except Exception as exc:  # any sink error: the server goes on
            self.metrics.sink_failures.labels(sink).inc()
            now = time.monotonic()
            if now >= self._quiet_until.get(sink, 0.0):
                self._quiet_until[sink] = now + _QUIET_S
                log.warning(
                    "inference log: the %s sink failed (%s: %s); its rows are counted as "
                    "failed in /metrics, and this message repeats at most once a minute",
                    sink,
                    type(exc).__name__,
                    exc,
                )
            return False

    # tests and shutdown ----------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued entry is handled and the gauges are current; False on
        timeout."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks or self._stale:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, finish the open file, stop the thread."""
        try:
            self.queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("inference log: the queue did not drain in %gs at shutdown", timeout)
            return
        self._thread.join(timeout)
