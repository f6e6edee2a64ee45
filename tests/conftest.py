"""Suite-wide settings.  Component fixtures live next to the tests that use them."""

from __future__ import annotations

import os

import pytest


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
                "component, so a skip means a missing install step", red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
