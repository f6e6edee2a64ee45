"""``otel-workflow report`` and ``otel-workflow email``.

    otel-workflow report --store otel-workflow.db --since 24h --out report.html
    otel-workflow report --prometheus http://127.0.0.1:9090 --format markdown --out report.md
    otel-workflow email --to owner@example.com --smtp-host smtp.example.com \\
        --smtp-mode starttls --smtp-user reports          # password: OTEL_WORKFLOW_SMTP_PASSWORD
    otel-workflow email --to owner@example.com --cron "0 8 * * *" --state schedule.json

SMTP options fall back to the ``OTEL_WORKFLOW_SMTP_*`` environment variables.  The password
is never taken from the command line (where ``ps`` and shell history would show it): it
comes from ``OTEL_WORKFLOW_SMTP_PASSWORD`` or from the variable ``--smtp-password-env`` names.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_workflow import settings
from otel_workflow.cli.analytics_commands import warn_dropped

if TYPE_CHECKING:
    from otel_workflow.analytics.engine import AnalyticsEngine
    from otel_workflow.reports.email import SmtpSettings

_DEFAULT_STORE = settings.DEFAULT_STORE_FILE
_ENV_STORE = settings.STORE.name


def register(subparsers: Any) -> None:
    """Add the ``report`` and ``email`` subcommands."""
    report = subparsers.add_parser(
        "report",
        help="write an HTML or markdown report with charts",
        description="Write a report (statistics, trends, slowest steps, errors, with charts).",
    )
    _add_source_options(report, "report format (default: from --out's suffix, else html)")
    report.add_argument(
        "--out", "-o", metavar="PATH",
        help="file to write, ending in .html/.htm or .md/.markdown "
        "(default: otel-workflow-report.html or .md)",
    )  # fmt: skip
    report.set_defaults(func=_run_report)

    mail = subparsers.add_parser(
        "email",
        help="email a report (now, or on a schedule with --every/--cron)",
        description="Email a report over SMTP; with --every or --cron, keep sending it on "
        "that schedule until interrupted.",
    )
    _add_source_options(mail, "format of the email body and the attached report (default html)")
    mail.add_argument(
        "--to", action="append", required=True, metavar="ADDRESS",
        help="recipient (repeat for several)",
    )  # fmt: skip
    mail.add_argument("--subject", help="subject line (default: a summary of the report)")
    smtp = mail.add_argument_group("SMTP (defaults from OTEL_WORKFLOW_SMTP_* variables)")
    smtp.add_argument("--smtp-host", help="server host (default 127.0.0.1)")
    smtp.add_argument("--smtp-port", type=int, help="server port (default by mode: 25/587/465)")
    smtp.add_argument("--smtp-mode", choices=("plain", "starttls", "ssl"), help="default plain")
    smtp.add_argument("--smtp-user", help="login name (no login when omitted)")
    smtp.add_argument(
        "--smtp-password-env", metavar="VAR",
        help="environment variable holding the password (default OTEL_WORKFLOW_SMTP_PASSWORD)",
    )  # fmt: skip
    smtp.add_argument("--smtp-from", help="sender address")
    smtp.add_argument("--smtp-timeout", type=float, help="socket timeout in seconds")
    smtp.add_argument("--smtp-cafile", help="PEM file of CA certificates to trust")
    schedule = mail.add_argument_group("schedule (runs in the foreground until interrupted)")
    when = schedule.add_mutually_exclusive_group()
    when.add_argument("--every", help="send every interval, e.g. 1d or 12h")
    when.add_argument("--cron", help='send at cron times (UTC), e.g. "0 8 * * *"')
    schedule.add_argument(
        "--state", metavar="PATH",
        help="schedule state file, so a run missed while down is sent once on restart",
    )  # fmt: skip
    mail.set_defaults(func=_run_email)


def _add_source_options(parser: argparse.ArgumentParser, format_help: str) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--store", metavar="PATH",
        help=f"SQLite store (default: ${_ENV_STORE} or {_DEFAULT_STORE})",
    )  # fmt: skip
    source.add_argument("--prometheus", metavar="URL", help="Prometheus HTTP API base URL")
    parser.add_argument(
        "--since",
        help="start: a duration ago (15m, 24h, 7d) or an ISO 8601 time (default: the "
        "data's last 24 hours, as for stats; on a schedule: a duration, default the time "
        "since the previous send)",
    )
    parser.add_argument("--until", help="end: a duration ago or an ISO 8601 time (default now)")
    parser.add_argument(
        "--format", choices=("html", "markdown"), help=format_help
    )  # fmt: skip
    parser.add_argument(
        "--trace-url", metavar="TEMPLATE",
        help="link trace ids to a trace viewer, e.g. "
        "'http://127.0.0.1:16686/trace/{trace_id}' ({trace_id}, {span_id}, {execution_id})",
    )  # fmt: skip


def _engine(args: argparse.Namespace) -> AnalyticsEngine:
    from otel_workflow.analytics.engine import AnalyticsEngine

    if args.prometheus:
        return AnalyticsEngine.from_prometheus(args.prometheus)
    path = args.store or settings.STORE.get() or _DEFAULT_STORE
    if not Path(path).is_file():
        raise FileNotFoundError(f"no store at {path} (give --store PATH or --prometheus URL)")
    return AnalyticsEngine.from_store(path)


# What each report format may be written to; any other --out suffix is refused rather
# than, say, HTML written into a file called r.pdf.
_SUFFIXES = {"html": (".html", ".htm"), "markdown": (".md", ".markdown")}


def _format(args: argparse.Namespace) -> str:
    """The report format: --format, else --out's suffix, else html.

    A ValueError (exit 1, nothing written) names an --out suffix that is not a report
    format's, or one that contradicts --format.
    """
    out = getattr(args, "out", None)
    if not out:
        return str(args.format or "html")
    suffix = Path(out).suffix.lower()
    by_suffix = next((k for k, v in _SUFFIXES.items() if suffix in v), None)
    known = ", ".join(s for v in _SUFFIXES.values() for s in v)
    if by_suffix is None:
        raise ValueError(
            f"--out {out}: {'a suffix ' + repr(suffix) if suffix else 'no suffix'} is not a "
            f"report format; use one of {known} (HTML or markdown)"
        )
    if args.format and args.format != by_suffix:
        raise ValueError(
            f"--out {out} is a {by_suffix} file name but --format is {args.format}; "
            f"use a suffix of {', '.join(_SUFFIXES[args.format])}"
        )
    return by_suffix


def _run_report(args: argparse.Namespace) -> int:
    from otel_workflow.reports.render import render_report

    kind = _format(args)
    default_out = "otel-workflow-report.md" if kind == "markdown" else "otel-workflow-report.html"
    with _engine(args) as engine:
        warn_dropped(engine, "otel-workflow report")
        path = render_report(
            engine, args.out or default_out, since=args.since, until=args.until,
            format=kind, trace_url=args.trace_url,
        )  # fmt: skip
    print(f"wrote {path}")
    return 0


def _smtp_settings(args: argparse.Namespace) -> SmtpSettings:
    from otel_workflow.reports.email import ENV_SMTP_PASSWORD, SmtpSettings

    password_var = args.smtp_password_env or ENV_SMTP_PASSWORD
    if args.smtp_password_env and not os.environ.get(password_var):
        raise ValueError(f"--smtp-password-env: environment variable {password_var} is not set")
    return SmtpSettings.from_env(
        host=args.smtp_host, port=args.smtp_port, mode=args.smtp_mode, username=args.smtp_user,
        password=os.environ.get(password_var) or None, from_addr=args.smtp_from,
        timeout=args.smtp_timeout, cafile=args.smtp_cafile,
    )  # fmt: skip


def _run_email(args: argparse.Namespace) -> int:
    from otel_workflow.reports.delivery import email_report

    settings = _smtp_settings(args)
    kind = _format(args)
    if args.every or args.cron:
        return _run_schedule(args, settings, kind)
    with _engine(args) as engine:
        msg = email_report(
            engine, settings, to=args.to, since=args.since, until=args.until, format=kind,
            subject=args.subject, trace_url=args.trace_url,
        )  # fmt: skip
    print(f"sent {msg['Subject']!r} to {', '.join(args.to)} via {settings.describe()}")
    return 0


def _run_schedule(args: argparse.Namespace, settings: SmtpSettings, kind: str) -> int:
    from otel_workflow.reports.delivery import schedule_report

    engine = _engine(args)
    stop = threading.Event()
    scheduler = schedule_report(
        to=args.to, smtp=settings, every=args.every, cron=args.cron, engine=engine,
        state_path=args.state, since=args.since, format=kind, subject=args.subject, start=False,
        trace_url=args.trace_url,
    )  # fmt: skip
    print(
        f"sending reports to {', '.join(args.to)}; next at {scheduler.next_run().isoformat()} "
        "(Ctrl-C to stop)",
        file=sys.stderr,
    )
    scheduler.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
        engine.close()
    return 0
