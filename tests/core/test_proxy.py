"""ow.instrument(): proxies, classes and import paths; ow.uninstrument() undoes them."""

from __future__ import annotations

import sys
import types

import pytest

import otel_workflow as ow
from otel_workflow.testing import TelemetryCapture


class Pipeline:
    version = 2

    def extract(self) -> list[int]:
        return [1, 2]

    def load(self, rows: list[int]) -> int:
        return len(rows)

    def _private(self) -> str:
        return "hidden"


def test_proxy_makes_public_methods_steps(ow_telemetry: TelemetryCapture) -> None:
    """Each public method call on the proxy is a step named Class.method."""
    pipeline = ow.instrument(Pipeline())
    assert pipeline.load(pipeline.extract()) == 2
    assert pipeline._private() == "hidden"
    names = sorted(s.name for s in ow_telemetry.step_spans())
    assert names == ["Pipeline.extract", "Pipeline.load"]


def test_proxy_is_transparent() -> None:
    """isinstance, attribute reads and writes pass through to the object."""
    target = Pipeline()
    pipeline = ow.instrument(target)
    assert isinstance(pipeline, Pipeline)
    pipeline.version = 5
    assert target.version == 5
    assert ow.uninstrument(pipeline) is target


def test_proxy_options_methods_and_prefix(ow_telemetry: TelemetryCapture) -> None:
    """methods= limits which calls count and prefix= renames the steps."""
    pipeline = ow.instrument(Pipeline(), methods=["load"], prefix="etl.")
    pipeline.extract()
    pipeline.load([1])
    assert [s.name for s in ow_telemetry.step_spans()] == ["etl.load"]


def test_proxy_rejects_unknown_method() -> None:
    """Naming a method the object lacks fails when instrumenting."""
    with pytest.raises(ValueError, match="no method 'nope'"):
        ow.instrument(Pipeline(), methods=["nope"])


def test_class_patched_in_place_and_restored(ow_telemetry: TelemetryCapture) -> None:
    """instrument(cls) patches every instance; uninstrument(cls) restores the originals."""

    class Job:
        def run(self) -> int:
            return 1

    original = Job.__dict__["run"]
    ow.instrument(Job)
    assert Job().run() == 1
    ow.uninstrument(Job)
    assert Job.__dict__["run"] is original
    Job().run()
    assert [s.name for s in ow_telemetry.step_spans()] == ["Job.run"]


def test_import_path_patching(ow_telemetry: TelemetryCapture) -> None:
    """'pkg.module:function' and 'pkg.module:Class.method' are patched and unpatched."""
    module = types.ModuleType("ow_fake_jobs")
    exec(
        "def sync():\n    return 'synced'\n"
        "class Loader:\n    def load(self):\n        return 'loaded'\n",
        module.__dict__,
    )
    sys.modules["ow_fake_jobs"] = module
    try:
        ow.instrument("ow_fake_jobs:sync", kind="workflow")
        ow.instrument("ow_fake_jobs:Loader.load")
        assert module.sync() == "synced"
        assert module.Loader().load() == "loaded"
        ow.uninstrument("ow_fake_jobs:sync")
        ow.uninstrument("ow_fake_jobs:Loader.load")
        module.sync()
        module.Loader().load()
    finally:
        del sys.modules["ow_fake_jobs"]
    assert [s.name for s in ow_telemetry.workflow_spans()] == ["sync"]
    assert [s.name for s in ow_telemetry.step_spans()] == ["Loader.load"]


@pytest.mark.parametrize(
    ("target", "message"),
    [("no_colon", "must look like"), ("json:nope", "no attribute 'nope'"),
     ("ow_missing_module_xyz:f", "cannot import")],
)
def test_bad_import_paths(target: str, message: str) -> None:
    """A malformed or unresolvable path gives a clear ValueError."""
    with pytest.raises(ValueError, match=message):
        ow.instrument(target)


def test_uninstrument_rejects_plain_objects() -> None:
    """uninstrument() of something never instrumented is a TypeError."""
    with pytest.raises(TypeError, match="uninstrument"):
        ow.uninstrument(42)
