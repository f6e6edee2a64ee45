"""One neutral view of every metric, rendered by both the Prometheus and the OTLP exporters.

:func:`collect_families` reads the decorators' pre-bound cells (``_metrics.REGISTRY``), the
self-metrics and the process metrics into :class:`MetricFamily` objects with OpenTelemetry
names and units.  The Prometheus exposition and the OTLP metric exporter both render these,
so ``/metrics`` and OTLP always carry the same numbers.  Families are JSON-serialisable so
worker processes can share them through files (see :mod:`.multiprocess`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from otel_workflow import semconv
from otel_workflow._guard import internal_error_counts
from otel_workflow._metrics import REGISTRY, CellReading, MetricsRegistry
from otel_workflow._process import cpu_seconds, resident_memory_bytes
from otel_workflow.exporters.drops import dropped_span_counts

HISTOGRAM = "histogram"
COUNTER = "counter"
GAUGE = "gauge"  # includes up-down counters: a current value, summed across processes


@dataclass
class ExemplarData:
    trace_id: int
    span_id: int
    value: float
    time_unix_nano: int


@dataclass
class Series:
    labels: dict[str, str]
    value: float = 0.0  # counters and gauges
    counts: list[int] = field(default_factory=list)  # histograms: per bucket, last is +Inf
    sum: float = 0.0
    exemplars: list[ExemplarData | None] = field(default_factory=list)


@dataclass
class MetricFamily:
    name: str  # OpenTelemetry name, e.g. "workflow.step.duration"
    kind: str
    unit: str  # UCUM: "s", "By", "1"
    description: str
    series: list[Series] = field(default_factory=list)
    # Gauges of dead worker processes are dropped on merge; counters and histograms are kept.
    per_process: bool = False


DESCRIPTIONS = {
    semconv.METRIC_WORKFLOW_EXECUTIONS: "Workflow executions that finished, by status.",
    semconv.METRIC_WORKFLOW_DURATION: "Duration of workflow executions.",
    semconv.METRIC_WORKFLOW_ACTIVE: "Workflow executions in progress.",
    semconv.METRIC_STEP_EXECUTIONS: "Step executions (attempts) that finished, by status.",
    semconv.METRIC_STEP_DURATION: "Duration of step executions.",
    semconv.METRIC_STEP_ERRORS: "Failed steps by error type and category.",
    semconv.METRIC_STEP_CPU_TIME: "Thread CPU time spent in steps.",
    semconv.METRIC_PROCESS_MEMORY: "Resident memory of the process.",
    semconv.METRIC_PROCESS_CPU: "CPU time (user + system) consumed by the process.",
    semconv.METRIC_SELF_ERRORS: "Internal errors of otel-workflow (caught; user code unaffected).",
    semconv.METRIC_SELF_SPANS_DROPPED: "Spans otel-workflow could not export.",
    semconv.METRIC_SELF_LABEL_OVERFLOW: "Label values replaced by _OTHER (cardinality cap).",
}


def prometheus_name(family: MetricFamily) -> str:
    """The exposition name, as an OpenTelemetry Collector's Prometheus exporter spells it."""
    name = family.name.replace(".", "_")
    suffix = {"s": "_seconds", "By": "_bytes"}.get(family.unit, "")
    if suffix and not name.endswith(suffix):
        name += suffix
    if family.kind == COUNTER:
        name += "_total"
    return name


def _exemplar(entry: Any) -> ExemplarData | None:
    if entry is None:
        return None
    span, value = entry  # only sampled spans are stored (HistogramCell.observe)
    context = span.get_span_context()
    end = getattr(span, "end_time", None) or time.time_ns()
    return ExemplarData(context.trace_id, context.span_id, value, end)


def _histograms(
    readings: list[list[CellReading]],
) -> tuple[list[Series], list[Series], list[Series]]:
    """One pass over the cells: (execution counts, duration histograms, CPU histograms)."""
    counts_series, durations, cpu = [], [], []
    for cells in readings:
        for reading in cells:
            total = reading.count
            if total == 0:
                continue
            labels = dict(reading.labels)
            labels[semconv.LABEL_STATUS] = reading.status
            counts_series.append(Series(labels, value=total))
            durations.append(Series(
                labels, counts=reading.counts, sum=reading.sum,
                exemplars=[_exemplar(e) for e in reading.exemplars],
            ))  # fmt: skip
            cpu.append(Series(labels, counts=reading.cpu_counts, sum=reading.cpu_sum))
    return counts_series, durations, cpu


def collect_families(registry: MetricsRegistry = REGISTRY) -> list[MetricFamily]:
    """Every metric family of this process, read now."""
    snap = registry.snapshot()
    wf_counts, wf_durations, _ = _histograms(snap.workflows)  # workflows record no CPU time
    step_counts, step_durations, step_cpu = _histograms(snap.steps)
    active = [Series(dict(labels), value=value) for labels, value in snap.active]
    errors = [
        Series({semconv.LABEL_WORKFLOW: key.workflow, semconv.LABEL_STEP: key.step,
                semconv.LABEL_ERROR_TYPE: key.error_type,
                semconv.LABEL_ERROR_CATEGORY: key.category}, value=count)
        for key, count in snap.errors if count
    ]  # fmt: skip
    self_errors = [
        Series({semconv.LABEL_COMPONENT: component}, value=count)
        for component, count in sorted(internal_error_counts().items())
    ]
    overflow = [
        Series({semconv.LABEL_LABEL: key}, value=count)
        for key, count in sorted(snap.label_overflows.items())
    ]
    dropped = [
        Series({semconv.LABEL_REASON: reason}, value=count)
        for reason, count in sorted(dropped_span_counts().items())
    ]

    def family(name: str, kind: str, unit: str, series: list[Series], **kw: Any) -> MetricFamily:
        return MetricFamily(name, kind, unit, DESCRIPTIONS[name], series, **kw)

    return [
        family(semconv.METRIC_WORKFLOW_EXECUTIONS, COUNTER, "1", wf_counts),
        family(semconv.METRIC_WORKFLOW_DURATION, HISTOGRAM, "s", wf_durations),
        family(semconv.METRIC_WORKFLOW_ACTIVE, GAUGE, "1", active, per_process=True),
        family(semconv.METRIC_STEP_EXECUTIONS, COUNTER, "1", step_counts),
        family(semconv.METRIC_STEP_DURATION, HISTOGRAM, "s", step_durations),
        family(semconv.METRIC_STEP_CPU_TIME, HISTOGRAM, "s", step_cpu),
        family(semconv.METRIC_STEP_ERRORS, COUNTER, "1", errors),
        family(semconv.METRIC_PROCESS_MEMORY, GAUGE, "By",
               [Series({}, value=float(resident_memory_bytes()))], per_process=True),
        family(semconv.METRIC_PROCESS_CPU, COUNTER, "s", [Series({}, value=cpu_seconds())]),
        family(semconv.METRIC_SELF_ERRORS, COUNTER, "1", self_errors),
        family(semconv.METRIC_SELF_SPANS_DROPPED, COUNTER, "1", dropped),
        family(semconv.METRIC_SELF_LABEL_OVERFLOW, COUNTER, "1", overflow),
    ]  # fmt: skip


# -- merging and (de)serialising, for several worker processes ----------------------------
def merge(processes: list[tuple[list[MetricFamily], bool]]) -> list[MetricFamily]:
    """Sum families from several processes; ``bool`` says whether that process is alive."""
    merged: dict[str, MetricFamily] = {}
    order: list[str] = []
    for families, alive in processes:
        for fam in families:
            if fam.per_process and not alive:
                continue
            target = merged.get(fam.name)
            if target is None:
                target = merged[fam.name] = MetricFamily(
                    fam.name, fam.kind, fam.unit, fam.description, [], fam.per_process
                )
                order.append(fam.name)
            _merge_series(target, fam)
    return [merged[name] for name in order]


def _merge_series(target: MetricFamily, source: MetricFamily) -> None:
    index = {tuple(sorted(s.labels.items())): s for s in target.series}
    for series in source.series:
        key = tuple(sorted(series.labels.items()))
        existing = index.get(key)
        if existing is None:
            copy = Series(dict(series.labels), series.value, list(series.counts), series.sum,
                          list(series.exemplars))  # fmt: skip
            target.series.append(copy)
            index[key] = copy
            continue
        existing.value += series.value
        existing.sum += series.sum
        if series.counts:
            if not existing.counts:
                existing.counts = [0] * len(series.counts)
                existing.exemplars = [None] * len(series.counts)
            existing.counts = [a + b for a, b in zip(existing.counts, series.counts, strict=True)]
            pairs = zip(existing.exemplars, series.exemplars, strict=True)
            existing.exemplars = [_newer(a, b) for a, b in pairs]


def _newer(a: ExemplarData | None, b: ExemplarData | None) -> ExemplarData | None:
    if a is None or (b is not None and b.time_unix_nano > a.time_unix_nano):
        return b
    return a


def families_to_json(families: list[MetricFamily]) -> list[dict[str, Any]]:
    out = []
    for fam in families:
        out.append({
            "name": fam.name, "kind": fam.kind, "unit": fam.unit,
            "description": fam.description, "per_process": fam.per_process,
            "series": [{
                "labels": s.labels, "value": s.value, "counts": s.counts, "sum": s.sum,
                "exemplars": [None if e is None else [f"{e.trace_id:032x}", f"{e.span_id:016x}",
                                                      e.value, e.time_unix_nano]
                              for e in s.exemplars],
            } for s in fam.series],
        })  # fmt: skip
    return out


def families_from_json(data: list[dict[str, Any]]) -> list[MetricFamily]:
    families = []
    for raw in data:
        series = [
            Series(
                {str(k): str(v) for k, v in s["labels"].items()}, float(s["value"]),
                [int(c) for c in s["counts"]], float(s["sum"]),
                [None if e is None else ExemplarData(int(e[0], 16), int(e[1], 16), float(e[2]),
                                                     int(e[3]))
                 for e in s["exemplars"]],
            )
            for s in raw["series"]
        ]  # fmt: skip
        families.append(MetricFamily(raw["name"], raw["kind"], raw["unit"], raw["description"],
                                     series, bool(raw["per_process"])))  # fmt: skip
    return families
