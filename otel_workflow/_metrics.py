"""Pre-bound metric aggregates written by the decorators on the hot path.

The OpenTelemetry SDK's ``Histogram.record`` with attributes costs about ten times a
pre-bound ``prometheus_client`` child because it hashes the attribute set on every call.
Here every label set is bound when the decorator is built (one cell per status), so a call
costs one ``bisect`` and a few increments under a per-cell lock (plain list increments alone
would lose counts between threads).  The exporters layer reads these aggregates through
:func:`snapshot` and renders them both as Prometheus exposition and as OpenTelemetry
metric data, so the same numbers reach ``/metrics`` and OTLP.

Executions counters are not kept separately: a histogram's count *is* the number of
executions with that status.
"""

from __future__ import annotations

import itertools
import os
import threading
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from otel_workflow import semconv

BOUNDS: tuple[float, ...] = semconv.DURATION_BUCKETS
_NBUCKETS = len(BOUNDS) + 1  # the last bucket is +Inf

DEFAULT_MAX_LABEL_VALUES = 200


def _sampled(span: Any) -> int:
    """The span's sampled bit (``trace_flags & 1``), cheaply.

    An SDK span keeps its context in ``_context``: reading it directly costs half of the
    ``get_span_context()`` call, on every step; any other span takes the API's way.
    """
    try:
        return span._context.trace_flags & 1  # type: ignore[no-any-return]
    except AttributeError:
        return span.get_span_context().trace_flags & 1  # type: ignore[no-any-return]


class HistogramCell:
    """Duration histogram (and optionally a CPU-time histogram) for one label set."""

    __slots__ = ("counts", "cpu_counts", "cpu_sum", "exemplars", "lock", "sum")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = [0] * _NBUCKETS
        self.sum = 0.0
        self.cpu_counts = [0] * _NBUCKETS
        self.cpu_sum = 0.0
        # (span, value) of the last observation in each bucket; rendered as the bucket's
        # exemplar at collection time so the hot path only stores a reference.
        self.exemplars: list[Any] = [None] * _NBUCKETS

    def observe(self, duration: float, exemplar: Any) -> None:
        """Count one duration (seconds); ``exemplar`` is the span or ``None``.

        Only a sampled span becomes the bucket's exemplar: an unsampled (RECORD_ONLY) trace
        is never exported, so a link to it would lead nowhere, and it must not replace the
        last sampled one.  ``trace_flags & 1`` is the sampled bit, without the property call.
        """
        i = bisect_left(BOUNDS, duration)
        with self.lock:
            self.counts[i] += 1
            self.sum += duration
        if exemplar is not None and _sampled(exemplar):
            # A single list store is atomic under the GIL; the last writer wins, as intended.
            self.exemplars[i] = (exemplar, duration)

    def observe_with_cpu(self, duration: float, cpu: float, exemplar: Any) -> None:
        """Count one duration and the CPU time spent in it (both seconds)."""
        i = bisect_left(BOUNDS, duration)
        j = bisect_left(BOUNDS, cpu)
        with self.lock:
            self.counts[i] += 1
            self.sum += duration
            self.cpu_counts[j] += 1
            self.cpu_sum += cpu
        if exemplar is not None and _sampled(exemplar):
            self.exemplars[i] = (exemplar, duration)

    def read(self) -> tuple[list[int], float, list[int], float, list[Any]]:
        """A consistent copy: (counts, sum, cpu_counts, cpu_sum, exemplars)."""
        with self.lock:
            return (list(self.counts), self.sum, list(self.cpu_counts), self.cpu_sum,
                    list(self.exemplars))  # fmt: skip

    def reset(self) -> None:
        with self.lock:
            self.counts = [0] * _NBUCKETS
            self.sum = 0.0
            self.cpu_counts = [0] * _NBUCKETS
            self.cpu_sum = 0.0
            self.exemplars = [None] * _NBUCKETS


class StatusCells:
    """One histogram cell per status, bound to a fixed label set.

    ``cell(status)`` takes ``ok``, ``error``, ``cancelled`` or ``retried`` (an attempt that
    failed and is retried); anything else counts as ``error``.  A status with no
    observations is not exposed, so ``retried`` appears only where retries happen.
    """

    __slots__ = ("cancelled", "error", "labels", "ok", "retried")

    def __init__(self, labels: tuple[tuple[str, str], ...]) -> None:
        self.labels = labels
        self.ok = HistogramCell()
        self.error = HistogramCell()
        self.cancelled = HistogramCell()
        self.retried = HistogramCell()

    def by_status(self) -> Iterator[tuple[str, HistogramCell]]:
        yield semconv.STATUS_OK, self.ok
        yield semconv.STATUS_ERROR, self.error
        yield semconv.STATUS_CANCELLED, self.cancelled
        yield semconv.STATUS_RETRIED, self.retried

    def cell(self, status: str) -> HistogramCell:
        if status == semconv.STATUS_OK:
            return self.ok
        if status == semconv.STATUS_CANCELLED:
            return self.cancelled
        if status == semconv.STATUS_RETRIED:
            return self.retried
        return self.error


class ActiveGauge:
    """Up-down counter of executions in flight for one label set.

    Two ``itertools.count`` objects, started and finished: ``next()`` on one is atomic
    under the GIL (the step index relies on the same), so the hot path takes no lock;
    the value is read (rarely: at collection) through the counters' pickling state.
    """

    __slots__ = ("_finished", "_started", "labels")

    def __init__(self, labels: tuple[tuple[str, str], ...]) -> None:
        self.labels = labels
        self._started = itertools.count()
        self._finished = itertools.count()

    def started(self) -> None:
        next(self._started)

    def finished(self) -> None:
        next(self._finished)

    @property
    def value(self) -> int:
        finished = self._finished.__reduce__()[1][0]
        started = self._started.__reduce__()[1][0]
        return int(started) - int(finished)

    def reset(self) -> None:
        self._started = itertools.count()
        self._finished = itertools.count()


class LabelCap:
    """Caps distinct values per label key; extra values become ``_OTHER``.

    Checked only when a label set is first bound (decoration time, or the first time a
    step runs under a new workflow or fails with a new error type), never per call.
    """

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.overflows: dict[str, int] = {}

    def admit(self, key: str, value: str) -> str:
        with self._lock:
            seen = self._seen.setdefault(key, set())
            if value in seen:
                return value
            if len(seen) < self.max_values:
                seen.add(value)
                return value
            self.overflows[key] = self.overflows.get(key, 0) + 1
            return semconv.OVERFLOW_VALUE


@dataclass(frozen=True)
class ErrorKey:
    workflow: str
    step: str
    error_type: str
    category: str


class MetricsRegistry:
    """Every aggregate the decorators write, for the exporters to read.

    There is one process-wide registry (:data:`REGISTRY`); decorators bind their cells
    to it at decoration time.  :meth:`reset` zeroes values without unbinding cells, so
    test fixtures can start each test from zero.
    """

    def __init__(self, max_label_values: int = DEFAULT_MAX_LABEL_VALUES) -> None:
        self._lock = threading.Lock()
        self.cap = LabelCap(max_label_values)
        self.workflows: dict[tuple[str, str], StatusCells] = {}
        self.active: dict[tuple[str, str], ActiveGauge] = {}
        self.steps: dict[tuple[str, str], StatusCells] = {}
        self.errors: dict[ErrorKey, list[int]] = {}

    # -- binding (decoration time / first use) -------------------------------------------
    def workflow_cells(self, workflow: str, workflow_type: str) -> tuple[StatusCells, ActiveGauge]:
        workflow = self.cap.admit(semconv.LABEL_WORKFLOW, workflow)
        workflow_type = self.cap.admit(semconv.LABEL_WORKFLOW_TYPE, workflow_type)
        key = (workflow, workflow_type)
        with self._lock:
            cells = self.workflows.get(key)
            if cells is None:
                labels = ((semconv.LABEL_WORKFLOW, workflow),
                          (semconv.LABEL_WORKFLOW_TYPE, workflow_type))  # fmt: skip
                cells = self.workflows[key] = StatusCells(labels)
                self.active[key] = ActiveGauge(labels)
            return cells, self.active[key]

    def step_cells(self, workflow: str, step: str) -> StatusCells:
        workflow = self.cap.admit(semconv.LABEL_WORKFLOW, workflow)
        step = self.cap.admit(semconv.LABEL_STEP, step)
        key = (workflow, step)
        with self._lock:
            cells = self.steps.get(key)
            if cells is None:
                labels = ((semconv.LABEL_WORKFLOW, workflow), (semconv.LABEL_STEP, step))
                cells = self.steps[key] = StatusCells(labels)
            return cells

    def count_step_error(self, cells: StatusCells, error_type: str, category: str) -> None:
        """Count a failed step of ``cells``' label set by error type and category."""
        # The workflow and step labels were admitted under the cap when the cells were bound.
        (_, workflow), (_, step) = cells.labels
        key = ErrorKey(
            workflow, step, self.cap.admit(semconv.LABEL_ERROR_TYPE, error_type), category
        )
        with self._lock:
            counter = self.errors.get(key)
            if counter is None:
                counter = self.errors[key] = [0]
            counter[0] += 1

    # -- reading -----------------------------------------------------------------------
    def snapshot(self) -> RegistrySnapshot:
        """A consistent-per-cell copy of every aggregate."""
        with self._lock:
            workflows = list(self.workflows.values())
            active = list(self.active.values())
            steps = list(self.steps.values())
            errors = [(key, counter[0]) for key, counter in self.errors.items()]
        return RegistrySnapshot(
            workflows=[_read_cells(c) for c in workflows],
            active=[(g.labels, g.value) for g in active],
            steps=[_read_cells(c) for c in steps],
            errors=errors,
            label_overflows=dict(self.cap.overflows),
        )

    def after_fork(self) -> None:
        """In a forked child: fresh locks (a parent thread may have held one) and zeroes.

        The parent's counts stay the parent's; the child reports only its own work.
        """
        self._lock = threading.Lock()
        for cells in (*self.workflows.values(), *self.steps.values()):
            for _status, cell in cells.by_status():
                cell.lock = threading.Lock()
        self.cap._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every value; bound cells stay valid."""
        with self._lock:
            for cells in (*self.workflows.values(), *self.steps.values()):
                for _status, cell in cells.by_status():
                    cell.reset()
            for gauge in self.active.values():
                gauge.reset()
            for counter in self.errors.values():
                counter[0] = 0


@dataclass(frozen=True)
class CellReading:
    labels: tuple[tuple[str, str], ...]
    status: str
    counts: list[int]
    sum: float
    cpu_counts: list[int]
    cpu_sum: float
    exemplars: list[Any]

    @property
    def count(self) -> int:
        return sum(self.counts)


def _read_cells(cells: StatusCells) -> list[CellReading]:
    readings = []
    for status, cell in cells.by_status():
        counts, total, cpu_counts, cpu_total, exemplars = cell.read()
        readings.append(
            CellReading(cells.labels, status, counts, total, cpu_counts, cpu_total, exemplars)
        )
    return readings


@dataclass(frozen=True)
class RegistrySnapshot:
    workflows: list[list[CellReading]]
    active: list[tuple[tuple[tuple[str, str], ...], int]]
    steps: list[list[CellReading]]
    errors: list[tuple[ErrorKey, int]]
    label_overflows: dict[str, int]


REGISTRY = MetricsRegistry()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=REGISTRY.after_fork)
