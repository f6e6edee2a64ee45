"""The ow_telemetry pytest plugin fails tests on our own swallowed errors and checks labels."""

from __future__ import annotations

import pytest

import otel_workflow as ow
from otel_workflow import semconv
from otel_workflow._guard import report_internal_error
from otel_workflow.testing import TelemetryCapture

# The inner tests report through the guard directly, as our instrumentation does when it
# catches one of its own failures, so they don't depend on which code path has a bug today.
_PRELUDE = """
import pytest
from otel_workflow._guard import report_internal_error

def swallowed(component="hook", exc=None):
    try:
        raise exc or RuntimeError("hook bug in the plugin test")
    except Exception as caught:
        report_internal_error(component, caught)
"""


def _run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=_PRELUDE + body)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")


def test_an_unexpected_internal_error_fails_the_test_with_its_traceback(
    pytester: pytest.Pytester,
) -> None:
    """A test whose instrumentation swallowed an error fails, naming the component and traceback."""
    result = _run(pytester, """
def test_it(ow_telemetry):
    swallowed()
""")  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*1 internal error(s)*component(s): hook*", "in hook:", "Traceback*", "*in swallowed",
        "*RuntimeError: hook bug in the plugin test*",
    ])  # fmt: skip


def test_the_marker_allows_errors_of_the_named_component_only(pytester: pytest.Pytester) -> None:
    """``expect_internal_errors("hook")`` passes a hook error and still fails a decorator one."""
    result = _run(pytester, """
@pytest.mark.expect_internal_errors("hook")
def test_hook_expected(ow_telemetry):
    swallowed()

@pytest.mark.expect_internal_errors("hook")
def test_other_component_still_fails(ow_telemetry):
    swallowed("decorator", ValueError("not the expected one"))
""")  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_other_component_still_fails*", "*ValueError*"])


def test_the_fixture_method_allows_any_component(pytester: pytest.Pytester) -> None:
    """``ow_telemetry.expect_internal_errors()`` with no argument allows every component."""
    result = _run(pytester, """
def test_it(ow_telemetry):
    ow_telemetry.expect_internal_errors()
    swallowed("decorator")
    swallowed("exporter.store")
""")  # fmt: skip
    result.assert_outcomes(passed=1)


def test_an_error_during_fixture_teardown_is_reported_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    """An error reported after the test body (a fixture's teardown) is still caught."""
    result = _run(pytester, """
@pytest.fixture
def flushes_badly(ow_telemetry):
    yield
    swallowed("exporter.store", OSError("disk full at shutdown"))

def test_it(flushes_badly):
    pass
""")  # fmt: skip
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*exporter.store*", "*OSError: disk full at shutdown*"])


@pytest.mark.expect_internal_errors("plugin-test")
def test_the_watch_collects_every_report_not_only_the_first_logged(
    ow_telemetry: TelemetryCapture,
) -> None:
    """Three reports of one kind are three collected errors (the guard logs only the first)."""
    for i in range(3):
        report_internal_error("plugin-test", KeyError(i))
    assert ow_telemetry.watch is not None
    assert [e.exception.args for e in ow_telemetry.watch.errors] == [(0,), (1,), (2,)]


@ow.step
def _noop() -> int:
    return 1


def test_counter_with_an_unknown_label_key_names_the_valid_keys(
    ow_telemetry: TelemetryCapture,
) -> None:
    """A misspelt label key raises KeyError listing the metric's keys, instead of reading 0."""
    _noop()
    with pytest.raises(KeyError, match=r"'step'.*workflow\.status.*workflow\.step\.name"):
        ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS, step="_noop")


def test_counter_label_keys_are_checked_before_any_series_exists(
    ow_telemetry: TelemetryCapture,
) -> None:
    """With nothing recorded yet, a wrong key still raises rather than reading zero."""
    with pytest.raises(KeyError, match=r"error\.category"):
        ow_telemetry.counter(semconv.METRIC_STEP_ERRORS, category="transient")


def test_histogram_count_checks_label_keys_too(ow_telemetry: TelemetryCapture) -> None:
    """histogram_count applies the same label-key check as counter."""
    with pytest.raises(KeyError, match="no label 'name'"):
        ow_telemetry.histogram_count(semconv.METRIC_STEP_DURATION, name="x")


def test_counter_with_valid_keys_counts_the_matching_series(ow_telemetry: TelemetryCapture) -> None:
    """Correct keys select the series: two calls of one step read two ok executions."""
    _noop()
    _noop()
    labels = {semconv.LABEL_STEP: "_noop", semconv.LABEL_STATUS: "ok"}
    assert ow_telemetry.counter(semconv.METRIC_STEP_EXECUTIONS, **labels) == 2
