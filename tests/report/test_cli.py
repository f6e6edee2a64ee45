"""The ``otel-workflow report`` and ``otel-workflow email`` commands."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from otel_workflow.cli import main
from tests.report.conftest import SmtpFactory


def test_report_command_writes_html(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report --store ... --out x.html` writes the HTML report and says where."""
    out = tmp_path / "x.html"
    assert main(["report", "--store", str(store_path), "--since", "24h", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").count("<svg") == 5
    assert f"wrote {out}" in capsys.readouterr().out


def test_report_format_follows_the_out_suffix(store_path: Path, tmp_path: Path) -> None:
    """An --out ending in .md gives markdown without --format."""
    out = tmp_path / "x.md"
    assert main(["report", "--store", str(store_path), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Workflow report")
    assert (tmp_path / "x_files" / "throughput.svg").is_file()


def test_report_trace_url_links_trace_ids(store_path: Path, tmp_path: Path) -> None:
    """`report --trace-url TEMPLATE` links each listed trace id to the viewer."""
    out = tmp_path / "t.html"
    template = "http://127.0.0.1:16686/trace/{trace_id}"
    assert main(["report", "--store", str(store_path), "--out", str(out),
                 "--trace-url", template]) == 0  # fmt: skip
    assert '<a href="http://127.0.0.1:16686/trace/' in out.read_text(encoding="utf-8")


def test_report_bad_trace_url_is_a_clear_error(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --trace-url that is not an http(s) template fails with a message and writes nothing."""
    out = tmp_path / "t.html"
    code = main(["report", "--store", str(store_path), "--out", str(out),
                 "--trace-url", "file:///{trace_id}"])  # fmt: skip
    assert code != 0 and "trace_url must be an http or https URL" in capsys.readouterr().err
    assert not out.exists()


def test_report_store_from_environment(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --store the OTEL_WORKFLOW_STORE variable names the store."""
    monkeypatch.setenv("OTEL_WORKFLOW_STORE", str(store_path))
    out = tmp_path / "env.html"
    assert main(["report", "--out", str(out), "--format", "html"]) == 0
    assert out.is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--since", "last week"], "malformed time 'last week'"),
        (["--until", "2h", "--since", "1h"], "empty time range"),
    ],
)
def test_report_bad_range_is_a_clear_error(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], message: str,
) -> None:  # fmt: skip
    """A malformed range exits 1 with a message naming the problem."""
    out = tmp_path / "r.html"
    assert main(["report", "--store", str(store_path), "--out", str(out), *extra]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_report_missing_store_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store path that does not exist exits 1 naming the path."""
    missing = tmp_path / "nope.db"
    assert main(["report", "--store", str(missing), "--out", str(tmp_path / "r.html")]) == 1
    assert str(missing) in capsys.readouterr().err


@pytest.mark.integration
def test_email_command_sends_the_report(
    store_path: Path, smtp_server: SmtpFactory, monkeypatch: pytest.MonkeyPatch,
    tls_files: object, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`email` sends over STARTTLS with a login, the password coming from the environment."""
    server = smtp_server("starttls", auth=("bot", "env-secret"))
    monkeypatch.setenv("REPORT_PW", "env-secret")
    code = main([
        "email", "--store", str(store_path), "--to", "a@example.com", "--to", "b@example.com",
        "--subject", "Nightly", "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port),
        "--smtp-mode", "starttls", "--smtp-user", "bot", "--smtp-password-env", "REPORT_PW",
        "--smtp-from", "bot@example.com", "--smtp-cafile", str(tls_files.cert),  # type: ignore[attr-defined]
    ])  # fmt: skip
    assert code == 0
    (received,) = server.messages
    assert received.rcpt_tos == ["a@example.com", "b@example.com"]
    assert received.message["Subject"] == "Nightly"
    assert received.login == "bot"
    output = capsys.readouterr()
    assert "env-secret" not in output.out + output.err


def test_email_command_needs_the_named_password_variable(
    store_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--smtp-password-env naming an unset variable is a clear error, before connecting."""
    monkeypatch.delenv("NOT_SET_PW", raising=False)
    code = main([
        "email", "--store", str(store_path), "--to", "a@example.com", "--smtp-user", "bot",
        "--smtp-password-env", "NOT_SET_PW",
    ])  # fmt: skip
    assert code == 1
    assert "NOT_SET_PW is not set" in capsys.readouterr().err


# --- as a real subprocess, the way people run it ----------------------------------------
def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "otel_workflow.cli", *argv], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["r.pdf", "report", "r.HTML.txt"])
def test_report_refuses_an_out_suffix_that_is_no_report_format(
    store_path: Path, tmp_path: Path, name: str
) -> None:
    """`report --out r.pdf` exits 1 naming the suffixes it writes, and writes nothing."""
    out = tmp_path / "out" / name
    proc = _cli("report", "--store", str(store_path), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "is not a report format; use one of .html, .htm, .md, .markdown" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.parent.exists()


def test_report_refuses_an_out_suffix_contradicting_format(
    store_path: Path, tmp_path: Path
) -> None:
    """`--format markdown --out r.html` exits 1 rather than writing markdown into r.html."""
    out = tmp_path / "r.html"
    proc = _cli("report", "--store", str(store_path), "--format", "markdown", "--out", str(out))
    assert proc.returncode == 1 and "--format is markdown" in proc.stderr
    assert not out.exists()


def test_report_accepts_htm_and_markdown_suffixes(store_path: Path, tmp_path: Path) -> None:
    """.htm is written as HTML and .markdown as markdown."""
    htm, markdown = tmp_path / "r.htm", tmp_path / "r.markdown"
    assert _cli("report", "--store", str(store_path), "--out", str(htm)).returncode == 0
    assert _cli("report", "--store", str(store_path), "--out", str(markdown)).returncode == 0
    assert htm.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html>")
    assert markdown.read_text(encoding="utf-8").startswith("# Workflow report")


def test_each_subcommand_help_describes_only_its_own_options() -> None:
    """`email --help` never mentions --out, which it lacks; `report --help` explains it."""
    mail, report = _cli("email", "--help"), _cli("report", "--help")
    assert mail.returncode == 0 and report.returncode == 0
    assert "--out" not in mail.stdout and "--out" in report.stdout
    assert "from --out's suffix" in " ".join(report.stdout.split())
    assert "attached report" in " ".join(mail.stdout.split())


def test_email_connection_failure_names_the_server(store_path: Path) -> None:
    """A closed port exits 1 with the mode, host and port named, and no traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = _cli(
        "email", "--store", str(store_path), "--to", "a@example.com",
        "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-timeout", "5",
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"plain SMTP 127.0.0.1:{port}" in proc.stderr
    assert "Connection refused" in proc.stderr and "Traceback" not in proc.stderr
