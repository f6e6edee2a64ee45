"""OTLP: a real separate process exports spans and metrics to a real OTLP/HTTP receiver."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from otel_workflow import semconv
from otel_workflow.diagnosis.categories import categorize, error_type_name
from tests.integration._subprocess import run_child
from tests.support.otlp_receiver import OTLPReceiver, ReceivedSpan, attributes_of

pytestmark = pytest.mark.integration

# tests/integration/_children.py: checkout(1..5) (order 3 fails in validate), sync_inventory(4).
CHECKOUTS = 5
FAILED_ORDER = 3


@pytest.fixture(scope="module")
def otlp_receiver() -> Iterator[OTLPReceiver]:
    """One receiver for the module: every test reads what the one child process sent."""
    with OTLPReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def exported(otlp_receiver: OTLPReceiver) -> dict[str, Any]:
    """Run the OTLP workload once in a child process against the receiver (gzip-compressed)."""
    return run_child("otlp_workload", env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    })  # fmt: skip


def _of_kind(spans: list[ReceivedSpan], kind: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.attributes.get(semconv.WORKFLOW_SPAN_KIND) == kind]


def test_workload_results_are_unchanged(exported: dict[str, Any]) -> None:
    """The exporting process returns exactly what the undecorated code would."""
    assert exported["results"] == {"1": 10, "2": 20, "3": "ValueError", "4": 40, "5": 50}
    assert exported["inventory"] == [41, 42, 43]
    assert exported["shutdown"] is True


def test_workflow_spans_arrive_with_semconv_attributes(
    exported: dict[str, Any], otlp_receiver: OTLPReceiver
) -> None:
    """Every workflow execution arrives as a root span carrying name, type, version, ids, status."""
    otlp_receiver.wait_until(
        lambda r: len(_of_kind(r.spans(), semconv.SPAN_KIND_WORKFLOW)) >= CHECKOUTS + 1, 30
    )
    assert set(otlp_receiver.encodings) == {"gzip"}
    workflows = _of_kind(otlp_receiver.spans(), semconv.SPAN_KIND_WORKFLOW)
    checkouts = [s for s in workflows if s.attributes[semconv.WORKFLOW_NAME] == "checkout"]
    assert len(checkouts) == CHECKOUTS
    assert len({s.attributes[semconv.WORKFLOW_EXECUTION_ID] for s in workflows}) == len(workflows)
    for span in checkouts:
        assert span.parent_span_id == ""
        assert span.resource["service.name"] == "otlp-it"
        assert span.scope == semconv.INSTRUMENTATION_SCOPE
        assert span.attributes[semconv.WORKFLOW_TYPE] == "order"
        assert span.attributes[semconv.WORKFLOW_VERSION] == "2"
        assert span.attributes[semconv.USER_ID].startswith("user-")
        assert span.attributes["tenant"] == "acme"
        assert span.attributes[semconv.CODE_FUNCTION_NAME]
    statuses = Counter(s.attributes[semconv.WORKFLOW_STATUS] for s in checkouts)
    assert statuses == {semconv.STATUS_OK: CHECKOUTS - 1, semconv.STATUS_ERROR: 1}


def test_step_spans_are_children_of_their_execution(
    exported: dict[str, Any], otlp_receiver: OTLPReceiver
) -> None:
    """Each step span is a child of its workflow span in the same trace, with index and attempt."""
    otlp_receiver.wait_until(lambda r: len(_of_kind(r.spans(), semconv.SPAN_KIND_STEP)) >= 12, 30)
    spans = otlp_receiver.spans()
    workflows = {s.span_id: s for s in _of_kind(spans, semconv.SPAN_KIND_WORKFLOW)}
    steps = _of_kind(spans, semconv.SPAN_KIND_STEP)
    # 5 validate + 4 charge (order 3 stops at validate) + 3 fetch_stock.
    assert Counter(s.attributes[semconv.STEP_NAME] for s in steps) == {
        "validate": 5, "charge": 4, "fetch_stock": 3,
    }  # fmt: skip
    for step in steps:
        parent = workflows[step.parent_span_id]
        assert step.trace_id == parent.trace_id
        assert step.attributes[semconv.WORKFLOW_EXECUTION_ID] == (
            parent.attributes[semconv.WORKFLOW_EXECUTION_ID])  # fmt: skip
        assert step.attributes[semconv.WORKFLOW_NAME] == parent.attributes[semconv.WORKFLOW_NAME]
        assert step.attributes[semconv.STEP_ATTEMPT] == 1
        if step.attributes.get(semconv.WORKFLOW_STATUS) != semconv.STATUS_ERROR:
            assert step.proto.status.code == Status.STATUS_CODE_UNSET
        assert isinstance(step.attributes[semconv.STEP_CPU_TIME], float)
        if step.attributes[semconv.STEP_NAME] == "charge":
            assert step.attributes[semconv.STEP_INDEX] == 1
            assert step.attributes[semconv.USER_ID] == parent.attributes[semconv.USER_ID]


def test_failed_step_carries_exception_event_and_error_type(
    exported: dict[str, Any], otlp_receiver: OTLPReceiver
) -> None:
    """The failing step arrives with status ERROR, the exception event and error.type/category."""
    otlp_receiver.wait_until(
        lambda r: any(s.proto.status.code == Status.STATUS_CODE_ERROR for s in r.spans()), 30
    )
    # A successful step leaves workflow.status unset (span status UNSET says ok; see
    # _instrumented.finish); a failed one always sets it.
    failed = [s for s in _of_kind(otlp_receiver.spans(), semconv.SPAN_KIND_STEP)
              if s.attributes.get(semconv.WORKFLOW_STATUS) == semconv.STATUS_ERROR]  # fmt: skip
    assert len(failed) == 1
    (step,) = failed
    error = ValueError("order 3 has no items")
    assert step.attributes[semconv.STEP_NAME] == "validate"
    assert step.proto.status.code == Status.STATUS_CODE_ERROR
    assert step.attributes[semconv.ERROR_TYPE] == error_type_name(error)
    assert step.attributes[semconv.ERROR_CATEGORY] == str(categorize(error))
    events = [e for e in step.proto.events if e.name == "exception"]
    assert len(events) == 1
    event = attributes_of(events[0].attributes)
    assert event["exception.type"].endswith("ValueError")
    assert event["exception.message"] == "order 3 has no items"
    assert "Traceback" in event["exception.stacktrace"]


def _points(receiver: OTLPReceiver, name: str) -> list[Any]:
    metric = receiver.latest_metric(name)
    assert metric is not None, f"metric {name} never arrived"
    kind = metric.WhichOneof("data")
    assert kind is not None
    return list(getattr(metric, kind).data_points)


def test_step_duration_histogram_counts_every_call(
    exported: dict[str, Any], otlp_receiver: OTLPReceiver
) -> None:
    """The workflow.step.duration histogram's bucket counts add up to the calls, per step/status."""
    otlp_receiver.wait_until(
        lambda r: r.latest_metric(semconv.METRIC_STEP_DURATION) is not None, 30
    )
    metric = otlp_receiver.latest_metric(semconv.METRIC_STEP_DURATION)
    assert metric is not None and metric.unit == "s"
    assert metric.histogram.aggregation_temporality == 2  # cumulative
    counts: Counter[tuple[str, str]] = Counter()
    for point in _points(otlp_receiver, semconv.METRIC_STEP_DURATION):
        labels = attributes_of(point.attributes)
        assert sum(point.bucket_counts) == point.count
        assert list(point.explicit_bounds) == list(semconv.DURATION_BUCKETS)
        assert semconv.USER_ID not in labels and semconv.WORKFLOW_EXECUTION_ID not in labels
        counts[(labels[semconv.LABEL_STEP], labels[semconv.LABEL_STATUS])] += point.count
    assert counts == {
        ("validate", semconv.STATUS_OK): 4, ("validate", semconv.STATUS_ERROR): 1,
        ("charge", semconv.STATUS_OK): 4, ("fetch_stock", semconv.STATUS_OK): 3,
    }  # fmt: skip


def test_exemplars_point_at_received_traces(
    exported: dict[str, Any], otlp_receiver: OTLPReceiver
) -> None:
    """Histogram exemplars carry trace and span ids of spans the receiver got."""
    otlp_receiver.wait_until(
        lambda r: (
            r.latest_metric(semconv.METRIC_STEP_DURATION) is not None and len(r.spans()) >= 18
        ),
        30,
    )
    span_ids = {(s.trace_id, s.span_id) for s in otlp_receiver.spans()}
    exemplars = [
        (e.trace_id.hex(), e.span_id.hex())
        for name in (semconv.METRIC_STEP_DURATION, semconv.METRIC_WORKFLOW_DURATION)
        for point in _points(otlp_receiver, name)
        for e in point.exemplars
    ]
    assert exemplars
    assert set(exemplars) <= span_ids


def test_workflow_executions_sum(exported: dict[str, Any], otlp_receiver: OTLPReceiver) -> None:
    """workflow.executions arrives as a monotonic cumulative sum matching the executions run."""
    otlp_receiver.wait_until(
        lambda r: r.latest_metric(semconv.METRIC_WORKFLOW_EXECUTIONS) is not None, 30
    )
    metric = otlp_receiver.latest_metric(semconv.METRIC_WORKFLOW_EXECUTIONS)
    assert metric is not None and metric.sum.is_monotonic
    totals: Counter[tuple[str, str]] = Counter()
    for point in metric.sum.data_points:
        labels = attributes_of(point.attributes)
        totals[(labels[semconv.LABEL_WORKFLOW], labels[semconv.LABEL_STATUS])] += int(
            point.as_double or point.as_int)  # fmt: skip
    assert totals == {
        ("checkout", semconv.STATUS_OK): CHECKOUTS - 1, ("checkout", semconv.STATUS_ERROR): 1,
        ("sync_inventory", semconv.STATUS_OK): 1,
    }  # fmt: skip
