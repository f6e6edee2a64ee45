"""Every attribute, metric and label name otel-workflow emits, in one place.

OpenTelemetry semantic conventions are used where one exists (``error.type``,
``code.function.name``, ``user.id``, ``session.id``, ``process.*``); the project's own
names live under ``workflow.*`` and ``otel_workflow.*`` (self-metrics).

Metric names are OpenTelemetry-style.  On Prometheus exposition (our ``/metrics`` and an
OpenTelemetry Collector's Prometheus exporter alike) dots become underscores, the unit is
appended (``_seconds``, ``_bytes``) and counters end in ``_total``; the ``PROM_*``
constants spell those names so dashboards and rules use exactly what is exposed.

High-cardinality values (user ids, execution ids) are span attributes only, never metric
labels.
"""

from __future__ import annotations

from typing import Final

# --- span attributes: workflow executions -------------------------------------------------
WORKFLOW_NAME: Final = "workflow.name"
WORKFLOW_TYPE: Final = "workflow.type"
WORKFLOW_VERSION: Final = "workflow.version"
WORKFLOW_EXECUTION_ID: Final = "workflow.execution.id"
WORKFLOW_PARENT_EXECUTION_ID: Final = "workflow.parent_execution.id"
WORKFLOW_STATUS: Final = "workflow.status"
"""One of :data:`STATUS_OK`, :data:`STATUS_ERROR`, :data:`STATUS_CANCELLED`."""

# Marks a span as produced by otel-workflow and says which kind it is.
WORKFLOW_SPAN_KIND: Final = "workflow.span.kind"
SPAN_KIND_WORKFLOW: Final = "workflow"
SPAN_KIND_STEP: Final = "step"

# --- span attributes: steps ----------------------------------------------------------------
STEP_NAME: Final = "workflow.step.name"
STEP_INDEX: Final = "workflow.step.index"
"""0-based position of the step among the steps started in its execution."""
STEP_ATTEMPT: Final = "workflow.step.attempt"
"""1 for the first attempt; retries count up."""
STEP_CPU_TIME: Final = "workflow.step.cpu_time"
"""Thread CPU time of the step in seconds (on the span too, for the store)."""

# --- errors ---------------------------------------------------------------------------------
ERROR_TYPE: Final = "error.type"  # semconv: fully qualified exception class name
ERROR_CATEGORY: Final = "workflow.error.category"
"""One of the categories in :mod:`otel_workflow.diagnosis.categories`."""

# The semantic conventions' ``exception`` span event and its attributes.
EXCEPTION_EVENT: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
EXCEPTION_ESCAPED: Final = "exception.escaped"

# --- pauses (time spent in hooks, e.g. stopped at a breakpoint) ---------------------------------
PAUSED_EVENT: Final = "workflow.paused"
WORKFLOW_PAUSE_DURATION: Final = "workflow.pause.duration"
"""Seconds a span spent paused in hooks: not in its metrics, subtracted by the store."""

# --- captured values (opt-in) ----------------------------------------------------------------
CAPTURE_INPUT: Final = "workflow.input"
CAPTURE_OUTPUT: Final = "workflow.output"
CAPTURE_TRUNCATED: Final = "workflow.capture.truncated"

# --- semantic conventions reused as they are -------------------------------------------------
CODE_FUNCTION_NAME: Final = "code.function.name"
CODE_FILE_PATH: Final = "code.file.path"
CODE_LINE_NUMBER: Final = "code.line.number"
USER_ID: Final = "user.id"
SESSION_ID: Final = "session.id"

# ``ow.attributes(user_id=..., session_id=...)`` keyword -> attribute name.
ATTRIBUTE_ALIASES: Final = {"user_id": USER_ID, "session_id": SESSION_ID}

# --- status values ------------------------------------------------------------------------
STATUS_OK: Final = "ok"
STATUS_ERROR: Final = "error"
STATUS_CANCELLED: Final = "cancelled"
# An attempt that failed and will be retried (the step machine records it; the last
# attempt carries ok/error). Not in STATUSES: a workflow never ends "retried".
STATUS_RETRIED: Final = "retried"
STATUSES: Final = (STATUS_OK, STATUS_ERROR, STATUS_CANCELLED)

# --- metrics (OpenTelemetry names, units) -----------------------------------------------------
METRIC_WORKFLOW_EXECUTIONS: Final = "workflow.executions"
METRIC_WORKFLOW_DURATION: Final = "workflow.duration"
METRIC_WORKFLOW_ACTIVE: Final = "workflow.active"
METRIC_STEP_EXECUTIONS: Final = "workflow.step.executions"
METRIC_STEP_DURATION: Final = "workflow.step.duration"
METRIC_STEP_ERRORS: Final = "workflow.step.errors"
METRIC_STEP_CPU_TIME: Final = "workflow.step.cpu_time"
METRIC_PROCESS_MEMORY: Final = "process.memory.usage"
METRIC_PROCESS_CPU: Final = "process.cpu.time"
# Self-metrics: the SDK's own health.
METRIC_SELF_ERRORS: Final = "otel_workflow.instrumentation.errors"
METRIC_SELF_SPANS_DROPPED: Final = "otel_workflow.spans.dropped"
METRIC_SELF_LABEL_OVERFLOW: Final = "otel_workflow.label.overflow"

# Metric attribute (label) keys.  Prometheus label = key with dots as underscores.
LABEL_WORKFLOW: Final = WORKFLOW_NAME
LABEL_WORKFLOW_TYPE: Final = WORKFLOW_TYPE
LABEL_STATUS: Final = WORKFLOW_STATUS
LABEL_STEP: Final = STEP_NAME
LABEL_ERROR_TYPE: Final = ERROR_TYPE
LABEL_ERROR_CATEGORY: Final = ERROR_CATEGORY
LABEL_COMPONENT: Final = "otel_workflow.component"
LABEL_REASON: Final = "otel_workflow.reason"
LABEL_LABEL: Final = "otel_workflow.label"

# Value a label takes once it has seen ``max_label_values`` distinct values.
OVERFLOW_VALUE: Final = "_OTHER"


def prometheus_label(key: str) -> str:
    """The Prometheus label name for an attribute key (``workflow.name`` -> ``workflow_name``)."""
    return key.replace(".", "_")


# Prometheus exposition names (what PromQL, dashboards and rules use).
PROM_WORKFLOW_EXECUTIONS: Final = "workflow_executions_total"
PROM_WORKFLOW_DURATION: Final = "workflow_duration_seconds"
PROM_WORKFLOW_ACTIVE: Final = "workflow_active"
PROM_STEP_EXECUTIONS: Final = "workflow_step_executions_total"
PROM_STEP_DURATION: Final = "workflow_step_duration_seconds"
PROM_STEP_ERRORS: Final = "workflow_step_errors_total"
PROM_STEP_CPU_TIME: Final = "workflow_step_cpu_time_seconds"
PROM_PROCESS_MEMORY: Final = "process_memory_usage_bytes"
PROM_PROCESS_CPU: Final = "process_cpu_time_seconds_total"
PROM_SELF_ERRORS: Final = "otel_workflow_instrumentation_errors_total"
PROM_SELF_SPANS_DROPPED: Final = "otel_workflow_spans_dropped_total"
PROM_SELF_LABEL_OVERFLOW: Final = "otel_workflow_label_overflow_total"

PROM_LABEL_WORKFLOW: Final = "workflow_name"
PROM_LABEL_WORKFLOW_TYPE: Final = "workflow_type"
PROM_LABEL_STATUS: Final = "workflow_status"
PROM_LABEL_STEP: Final = "workflow_step_name"
PROM_LABEL_ERROR_TYPE: Final = "error_type"
PROM_LABEL_ERROR_CATEGORY: Final = "workflow_error_category"

# Histogram bucket upper bounds in seconds: steps from 1 ms to 10 min.
DURATION_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip

# Instrumentation scope name for tracers (and the OTLP metric scope).
INSTRUMENTATION_SCOPE: Final = "otel_workflow"

# Prometheus recording rules (collector-config/prometheus/rules/recording.yml) that the
# dashboards and alerts read.  Names follow Prometheus's ``level:metric:operations``.
PROM_RULE_WORKFLOW_EXECUTIONS_RATE: Final = "workflow:workflow_executions:rate5m"
PROM_RULE_WORKFLOW_ERROR_RATIO: Final = "workflow:workflow_executions:error_ratio_rate5m"
PROM_RULE_WORKFLOW_DURATION_BUCKET_RATE: Final = "workflow:workflow_duration_seconds_bucket:rate5m"
PROM_RULE_WORKFLOW_DURATION_QUANTILE: Final = "workflow:workflow_duration_seconds:quantile_rate5m"
PROM_RULE_WORKFLOW_DURATION_P99_1H: Final = "workflow:workflow_duration_seconds:p99_rate1h"
PROM_RULE_STEP_EXECUTIONS_RATE: Final = "workflow_step:workflow_step_executions:rate5m"
PROM_RULE_STEP_ERROR_RATIO: Final = "workflow_step:workflow_step_executions:error_ratio_rate5m"
PROM_RULE_STEP_DURATION_BUCKET_RATE: Final = (
    "workflow_step:workflow_step_duration_seconds_bucket:rate5m"
)
PROM_RULE_STEP_DURATION_QUANTILE: Final = (
    "workflow_step:workflow_step_duration_seconds:quantile_rate5m"
)
PROM_RULE_STEP_ERRORS_RATE: Final = "workflow_step:workflow_step_errors:rate5m"
PROM_RULE_STEP_CPU_TIME_RATE: Final = "workflow_step:workflow_step_cpu_time_seconds:rate5m"
PROM_RULE_STEP_CPU_TIME_MEAN: Final = "workflow_step:workflow_step_cpu_time_seconds:mean_rate5m"
# Label the quantile recording rules carry (``"0.5"``, ``"0.95"``, ``"0.99"``).
PROM_LABEL_QUANTILE: Final = "quantile"
PROM_LABEL_LE: Final = "le"
