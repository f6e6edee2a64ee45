"""ow.attributes and context propagation into threads, tasks and executors."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow.testing import TelemetryCapture


@ow.step(name="leaf")
def leaf() -> int:
    return 1


def _assert_children(ow_telemetry: TelemetryCapture, workflow: str, count: int) -> None:
    (root,) = ow_telemetry.workflow_spans(workflow)
    leaves = ow_telemetry.step_spans("leaf")
    assert len(leaves) == count
    for span in leaves:
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.attributes[semconv.WORKFLOW_NAME] == workflow


def test_attributes_reach_root_and_steps(ow_telemetry: TelemetryCapture) -> None:
    """user_id/session_id and custom keys set inside a workflow reach every span."""

    @ow.workflow(name="with_user")
    def with_user() -> None:
        with ow.attributes(user_id="u-1", session_id="s-9", tenant="acme"):
            leaf()

    with_user()
    (root,) = ow_telemetry.workflow_spans("with_user")
    (step,) = ow_telemetry.step_spans("leaf")
    for span in (root, step):
        assert span.attributes[semconv.USER_ID] == "u-1"
        assert span.attributes[semconv.SESSION_ID] == "s-9"
        assert span.attributes["tenant"] == "acme"


def test_attributes_outside_apply_to_later_executions(ow_telemetry: TelemetryCapture) -> None:
    """Attributes set around a workflow call land on that workflow's spans."""

    @ow.workflow(name="plain")
    def plain() -> None:
        leaf()

    with ow.attributes(user_id="u-2"):
        plain()
    plain()
    spans = ow_telemetry.workflow_spans("plain")
    assert [s.attributes.get(semconv.USER_ID) for s in spans] == ["u-2", None]


def test_attributes_never_become_metric_labels(ow_telemetry: TelemetryCapture) -> None:
    """User ids stay on spans: no metric series carries them."""

    @ow.workflow(name="labelled")
    def labelled() -> None:
        with ow.attributes(user_id="u-3"):
            leaf()

    labelled()
    for family in ow_telemetry.metrics().values():
        for series in family.series:
            assert semconv.USER_ID not in series.labels
            assert "u-3" not in series.labels.values()


def test_thread_pool_submit_carries_context(ow_telemetry: TelemetryCapture) -> None:
    """Steps submitted to a ThreadPoolExecutor are children of the submitting workflow."""

    @ow.workflow(name="pooled")
    def pooled() -> int:
        with ThreadPoolExecutor(max_workers=2) as pool:
            return sum(f.result() for f in [pool.submit(leaf) for _ in range(4)])

    assert pooled() == 4
    _assert_children(ow_telemetry, "pooled", 4)


def test_to_thread_and_run_in_executor(ow_telemetry: TelemetryCapture) -> None:
    """asyncio.to_thread and loop.run_in_executor keep the execution context."""

    @ow.workflow(name="threaded")
    async def threaded() -> int:
        loop = asyncio.get_running_loop()
        a = await asyncio.to_thread(leaf)
        b = await loop.run_in_executor(None, leaf)
        return a + b

    assert asyncio.run(threaded()) == 2
    _assert_children(ow_telemetry, "threaded", 2)


def test_tasks_inherit_execution(ow_telemetry: TelemetryCapture) -> None:
    """asyncio tasks created inside a workflow belong to its execution."""

    @ow.step(name="aleaf")
    async def aleaf() -> int:
        return leaf()

    @ow.workflow(name="tasks")
    async def tasks() -> int:
        created = [asyncio.create_task(aleaf()) for _ in range(3)]
        return sum(await asyncio.gather(*created))

    assert asyncio.run(tasks()) == 3
    (root,) = ow_telemetry.workflow_spans("tasks")
    indices = sorted(s.attributes[semconv.STEP_INDEX] for s in ow_telemetry.step_spans())
    assert indices == list(range(6))  # unique per execution, even across tasks
    for span in ow_telemetry.step_spans("aleaf"):
        assert span.parent.span_id == root.context.span_id


def test_thread_pool_patch_can_be_undone(ow_telemetry: TelemetryCapture) -> None:
    """restore_thread_pool() puts the original submit back; the decorators re-apply it."""
    from otel_workflow._threads import ensure_context_propagation, restore_thread_pool

    patched = ThreadPoolExecutor.submit
    restore_thread_pool()
    try:
        assert ThreadPoolExecutor.submit is not patched
    finally:
        ensure_context_propagation()
    assert ThreadPoolExecutor.submit is patched
