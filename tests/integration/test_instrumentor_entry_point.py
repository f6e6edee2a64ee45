"""The ``opentelemetry_instrumentor`` entry point patches targets named in the environment."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap
import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from otel_workflow import semconv
from otel_workflow.instrumentor import ENV_INSTRUMENT
from otel_workflow.testing import TelemetryCapture

pytestmark = pytest.mark.integration

GROUP = "opentelemetry_instrumentor"

TARGET_SOURCE = """
class Loader:
    def load(self, n):
        return n * 2


def nightly(n):
    return Loader().load(n) + 1
"""


@pytest.fixture
def target_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A fresh module on sys.path (unique name) for the instrumentor to patch."""
    name = f"ow_it_target_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(TARGET_SOURCE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def _instrumentor() -> Any:
    (entry,) = [ep for ep in entry_points(group=GROUP) if ep.name == "otel_workflow"]
    return entry.load()()


def test_entry_point_is_registered() -> None:
    """otel-workflow's instrumentor is discoverable in the opentelemetry_instrumentor group."""
    names = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    assert names.get("otel_workflow") == "otel_workflow.instrumentor:WorkflowInstrumentor"


def test_instrument_patches_env_targets_then_uninstrument_restores(
    ow_telemetry: TelemetryCapture, target_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """instrument() turns OTEL_WORKFLOW_INSTRUMENT's targets into a workflow and a step."""
    mod = target_module.__name__
    original_nightly, original_load = target_module.nightly, target_module.Loader.load
    monkeypatch.setenv(ENV_INSTRUMENT, f"{mod}:nightly=workflow, {mod}:Loader.load")
    instrumentor = _instrumentor()
    instrumentor.instrument(configure=False)
    try:
        assert instrumentor.is_instrumented_by_opentelemetry
        assert target_module.nightly(3) == 7
        (workflow,) = ow_telemetry.workflow_spans("nightly")
        (step,) = ow_telemetry.step_spans("Loader.load")
        assert step.parent is not None and workflow.context is not None
        assert step.parent.span_id == workflow.context.span_id
        assert step.attributes is not None
        assert step.attributes[semconv.WORKFLOW_NAME] == "nightly"
        assert ow_telemetry.counter(semconv.METRIC_WORKFLOW_EXECUTIONS,
                                    **{semconv.LABEL_WORKFLOW: "nightly"}) == 1  # fmt: skip
    finally:
        instrumentor.uninstrument()
    assert not instrumentor.is_instrumented_by_opentelemetry
    assert target_module.nightly is original_nightly
    assert target_module.Loader.load is original_load
    ow_telemetry.clear()
    assert target_module.nightly(3) == 7
    assert ow_telemetry.spans() == []


def test_a_bad_target_is_skipped_with_a_warning(
    ow_telemetry: TelemetryCapture,
    target_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A target that does not exist is logged and skipped; the others are still patched."""
    mod = target_module.__name__
    monkeypatch.setenv(ENV_INSTRUMENT, f"{mod}:no_such_function,{mod}:nightly=workflow")
    instrumentor = _instrumentor()
    with caplog.at_level(logging.WARNING, logger="otel_workflow"):
        instrumentor.instrument(configure=False)
    try:
        assert any("no_such_function" in r.getMessage() for r in caplog.records)
        assert target_module.nightly(1) == 3
        assert len(ow_telemetry.workflow_spans("nightly")) == 1
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def unimported_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a module on sys.path that nothing has imported yet."""
    name = f"ow_it_later_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(TARGET_SOURCE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_module_imported_later_is_patched_as_it_defines_the_targets(
    ow_telemetry: TelemetryCapture, unimported_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Targets of a module not yet imported are patched when an import defines them."""
    mod = unimported_module
    monkeypatch.setenv(ENV_INSTRUMENT, f"{mod}:nightly=workflow,{mod}:Loader.load")
    instrumentor = _instrumentor()
    instrumentor.instrument(configure=False)
    try:
        assert mod not in sys.modules
        module = importlib.import_module(mod)
        assert module.nightly(2) == 5
        (workflow,) = ow_telemetry.workflow_spans("nightly")
        (step,) = ow_telemetry.step_spans("Loader.load")
        assert step.parent is not None and workflow.context is not None
        assert step.parent.span_id == workflow.context.span_id
    finally:
        instrumentor.uninstrument()
    ow_telemetry.clear()
    assert module.nightly(2) == 5
    assert ow_telemetry.spans() == []


def test_a_target_the_module_never_defines_is_named_in_a_warning(
    ow_telemetry: TelemetryCapture,
    unimported_module: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deferred target whose name the module never binds is logged when the module loads."""
    mod = unimported_module
    monkeypatch.setenv(ENV_INSTRUMENT, f"{mod}:missing_job,{mod}:nightly=workflow")
    instrumentor = _instrumentor()
    instrumentor.instrument(configure=False)
    try:
        with caplog.at_level(logging.WARNING, logger="otel_workflow"):
            module = importlib.import_module(mod)
        assert any("missing_job" in r.getMessage() for r in caplog.records)
        assert module.nightly(1) == 3
        assert len(ow_telemetry.workflow_spans("nightly")) == 1
    finally:
        instrumentor.uninstrument()
