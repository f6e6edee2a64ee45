"""Suite-wide settings.  Component fixtures live next to the tests that use them."""

from __future__ import annotations

import os

import pytest

from otel_workflow.testing import InternalErrorWatch

pytest_plugins = ["pytester"]  # tests of the ow_telemetry plugin run inner pytest sessions


@pytest.fixture(autouse=True)
def _fail_on_internal_errors(ow_internal_errors: InternalErrorWatch) -> InternalErrorWatch:
    """Every test in this suite fails on an internal error it does not declare it expects.

    Autouse, so the watch starts before the test's other fixtures and stops after them:
    an error while a fixture flushes an exporter at teardown counts too.
    """
    return ow_internal_errors


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI (``OTEL_WORKFLOW_FAIL_ON_SKIP=1``) any skipped test fails the run."""
    if not os.environ.get("OTEL_WORKFLOW_FAIL_ON_SKIP"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped and session.exitstatus == 0:
        if reporter is not None:
            reporter.write_line(
                f"OTEL_WORKFLOW_FAIL_ON_SKIP: {skipped} test(s) skipped; CI installs every "
                "component, so a skip means a missing install step",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
