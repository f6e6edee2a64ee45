"""Reports from a real store, emailed through a real SMTP server, now and on a schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from otel_workflow._polling import wait_until
from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.reports import ReportScheduler, SmtpSettings, email_report, schedule_report
from tests.report.conftest import SmtpFactory

pytestmark = pytest.mark.integration


def test_email_report_attaches_the_html_report(
    store_path: Path, smtp_server: SmtpFactory
) -> None:
    """email_report sends the summary as the body and the full HTML report as attachment."""
    server = smtp_server("plain")
    with AnalyticsEngine.from_store(store_path) as engine:
        email_report(engine, SmtpSettings(port=server.port), to=["owner@example.com"])
    (received,) = server.messages
    message = received.message
    assert message["Subject"].startswith("Workflow report ")
    assert "120 executions" in message["Subject"]
    body = message.get_body(preferencelist=("html",)).get_content()
    assert ">Workflows</h2>" in body and "<svg" not in body
    assert "billing &lt;script&gt;" in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "report.html"
    report = attachment.get_content()
    if isinstance(report, bytes):
        report = report.decode("utf-8")
    assert report.count("<svg") == 5


def test_email_report_markdown_attaches_chart_files(
    store_path: Path, smtp_server: SmtpFactory
) -> None:
    """A markdown report is attached with the SVG chart files it links to."""
    server = smtp_server("plain")
    with AnalyticsEngine.from_store(store_path) as engine:
        email_report(
            engine, SmtpSettings(port=server.port), to=["owner@example.com"],
            format="markdown", subject="Weekly",
        )  # fmt: skip
    (received,) = server.messages
    assert received.message["Subject"] == "Weekly"
    names = [part.get_filename() for part in received.message.iter_attachments()]
    assert names[0] == "report.md"
    assert sorted(names[1:]) == sorted(
        f"{key}.svg"
        for key in ("throughput", "error-rate", "durations", "slowest-steps", "error-categories")
    )


def test_scheduled_report_is_emailed_once_per_slot(
    store_path: Path, smtp_server: SmtpFactory, tmp_path: Path
) -> None:
    """schedule_report emails the report at its cron slot, once, and not again on restart."""
    server = smtp_server("plain")
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    clock_now = [start + timedelta(minutes=1)]
    state = tmp_path / "schedule.json"

    def make() -> ReportScheduler:
        return schedule_report(
            cron="0 * * * *", to=["owner@example.com"], smtp=SmtpSettings(port=server.port),
            store=store_path, state_path=state, clock=lambda: clock_now[0], start=False,
        )  # fmt: skip

    sched = make()
    assert sched.run_pending() is False
    clock_now[0] = start + timedelta(hours=1, seconds=5)
    assert sched.run_pending() is True
    assert len(server.messages) == 1
    (attachment,) = list(server.messages[0].message.iter_attachments())
    assert attachment.get_filename() == "report.html"
    restarted = make()
    assert restarted.run_pending() is False
    assert len(server.messages) == 1


def test_scheduled_report_retries_when_smtp_is_down(
    store_path: Path, smtp_server: SmtpFactory
) -> None:
    """A send that fails while the server is down is retried after the backoff and delivered."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on yet
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    now = [start]
    sched = schedule_report(
        every="1h", to=["owner@example.com"], smtp=SmtpSettings(port=port, timeout=5),
        store=store_path, since="24h", clock=lambda: now[0], start=False, backoff="1m",
    )  # fmt: skip
    now[0] = start + timedelta(hours=1)
    assert sched.run_pending() is False  # connection refused
    assert sched.next_run() == now[0] + timedelta(minutes=1)
    server = smtp_server("plain", port=port)  # the server comes back
    now[0] += timedelta(minutes=1)
    assert sched.run_pending() is True
    assert len(server.messages) == 1


def test_schedule_report_validates_arguments(store_path: Path) -> None:
    """schedule_report needs SmtpSettings and exactly one of store= or engine=."""
    with pytest.raises(TypeError, match="smtp must be SmtpSettings"):
        schedule_report(every="1d", to=["a@example.com"], smtp={"host": "x"}, store=store_path)
    with pytest.raises(ValueError, match="exactly one of store= or engine="):
        schedule_report(every="1d", to=["a@example.com"], smtp=SmtpSettings())


def test_running_schedule_emails_from_its_thread(
    store_path: Path, smtp_server: SmtpFactory
) -> None:
    """A started schedule sends a due report from its background thread; stop() ends it."""
    server = smtp_server("plain")
    start = datetime.now(timezone.utc)
    now = [start]
    sched = schedule_report(
        every="1d", to=["owner@example.com"], smtp=SmtpSettings(port=server.port),
        store=store_path, clock=lambda: now[0], start=False,
    )  # fmt: skip
    now[0] = start + timedelta(days=1, seconds=1)  # the first slot is due
    sched.start()
    try:
        wait_until(lambda: server.messages, 60,
                   error=lambda: AssertionError("no report was emailed"))  # fmt: skip
    finally:
        sched.stop()
    assert len(server.messages) == 1
    assert server.messages[0].message["Subject"].startswith("Workflow report ")
