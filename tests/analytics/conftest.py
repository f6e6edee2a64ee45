"""Helpers for the analytics tests: real OpenTelemetry SDK spans carrying our attributes."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, set_span_in_context

from otel_workflow import semconv
from otel_workflow.exporters.store import SQLiteSpanExporter

BASE_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z


@dataclass
class SpanFactory:
    """Builds finished workflow/step spans with exact start and end times."""

    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self._tracer = provider.get_tracer("tests.analytics")

    def execution(
        self,
        workflow: str,
        start_s: float,
        duration: float,
        *,
        workflow_type: str = "default",
        status: str = semconv.STATUS_OK,
        user_id: str | None = None,
        steps: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Record one execution (and its steps) starting ``start_s`` seconds after BASE_NS."""
        execution_id = f"exec-{next(self._ids)}"
        start = BASE_NS + int(start_s * 1e9)
        attrs: dict[str, Any] = {
            semconv.WORKFLOW_SPAN_KIND: semconv.SPAN_KIND_WORKFLOW,
            semconv.WORKFLOW_NAME: workflow,
            semconv.WORKFLOW_TYPE: workflow_type,
            semconv.WORKFLOW_VERSION: "1",
            semconv.WORKFLOW_EXECUTION_ID: execution_id,
            semconv.WORKFLOW_STATUS: status,
            semconv.CODE_FUNCTION_NAME: f"run_{workflow}",
        }
        if user_id is not None:
            attrs[semconv.USER_ID] = user_id
        if status == semconv.STATUS_ERROR:
            attrs[semconv.ERROR_TYPE] = "ValueError"
            attrs[semconv.ERROR_CATEGORY] = "validation"
        attrs.update(extra or {})
        root = self._tracer.start_span(workflow, start_time=start, attributes=attrs)
        ctx = set_span_in_context(root)
        offset = start
        for index, step in enumerate(steps or []):
            step_status = step.get("status", semconv.STATUS_OK)
            step_attrs: dict[str, Any] = {
                semconv.WORKFLOW_SPAN_KIND: semconv.SPAN_KIND_STEP,
                semconv.WORKFLOW_NAME: workflow,
                semconv.WORKFLOW_EXECUTION_ID: execution_id,
                semconv.STEP_NAME: step["name"],
                semconv.STEP_INDEX: index,
                semconv.STEP_ATTEMPT: 1,
                semconv.WORKFLOW_STATUS: step_status,
                semconv.STEP_CPU_TIME: step.get("cpu", 0.0),
            }
            if step_status == semconv.STATUS_ERROR:
                step_attrs[semconv.ERROR_TYPE] = step.get("error_type", "ValueError")
                step_attrs[semconv.ERROR_CATEGORY] = step.get("category", "validation")
            child = self._tracer.start_span(
                step["name"], context=ctx, start_time=offset, attributes=step_attrs
            )
            if step_status == semconv.STATUS_ERROR:
                child.set_status(Status(StatusCode.ERROR))
            offset += int(step["duration"] * 1e9)
            child.end(end_time=offset)
        if status == semconv.STATUS_ERROR:
            root.set_status(Status(StatusCode.ERROR))
        root.end(end_time=start + int(duration * 1e9))
        return execution_id

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def write(self, path: Path, **kwargs: Any) -> Path:
        """Export every recorded span into the store at ``path``."""
        exporter = SQLiteSpanExporter(path, **kwargs)
        try:
            spans = self.spans()
            for i in range(0, len(spans), 512):
                assert exporter.export(spans[i : i + 512]).name == "SUCCESS"
        finally:
            exporter.shutdown()
        return path


@pytest.fixture
def factory() -> SpanFactory:
    """A fresh span factory."""
    return SpanFactory()


@dataclass
class Workload:
    """A deterministic synthetic workload written to a store, with the truth kept aside."""

    path: Path
    durations: dict[str, list[float]]
    step_durations: dict[tuple[str, str], list[float]]
    statuses: dict[str, list[str]]
    users: dict[str, list[tuple[float, str]]]


def build_workload(path: Path, seed: int = 7, executions: int = 400) -> Workload:
    """Executions of three workflows over one hour, with failures, users and steps."""
    rng = random.Random(seed)
    factory = SpanFactory()
    durations: dict[str, list[float]] = {}
    step_durations: dict[tuple[str, str], list[float]] = {}
    statuses: dict[str, list[str]] = {}
    users: dict[str, list[tuple[float, str]]] = {}
    kinds = [("order", "commerce"), ("refund", "commerce"), ("report", "batch")]
    for i in range(executions):
        workflow, wtype = kinds[i % 3]
        start_s = i * 3600.0 / executions
        step_list: list[dict[str, Any]] = []
        for name in ("validate", "charge", "notify"):
            d = rng.lognormvariate(-4, 1)
            failed = name == "charge" and rng.random() < 0.1
            step_list.append(
                {
                    "name": name,
                    "duration": d,
                    "cpu": d / 2,
                    "status": semconv.STATUS_ERROR if failed else semconv.STATUS_OK,
                    "error_type": "TimeoutError",
                    "category": "timeout",
                }
            )
            step_durations.setdefault((workflow, name), []).append(d)
        total = sum(s["duration"] for s in step_list) + rng.random() * 0.01
        roll = rng.random()
        status = (
            semconv.STATUS_ERROR
            if any(s["status"] == semconv.STATUS_ERROR for s in step_list)
            else (semconv.STATUS_CANCELLED if roll < 0.03 else semconv.STATUS_OK)
        )
        user = f"user-{rng.randrange(5)}"
        factory.execution(
            workflow,
            start_s,
            total,
            workflow_type=wtype,
            status=status,
            user_id=user,
            steps=step_list,
        )
        durations.setdefault(workflow, []).append(total)
        statuses.setdefault(workflow, []).append(status)
        users.setdefault(user, []).append((total, status))
    factory.write(path)
    return Workload(path, durations, step_durations, statuses, users)


@pytest.fixture
def workload(tmp_path: Path) -> Workload:
    """The synthetic workload in a fresh store."""
    return build_workload(tmp_path / "store.db")
