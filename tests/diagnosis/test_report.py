"""Error reports (markdown, JSON, HTML in headless Chromium), the CLI and bad input."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import otel_workflow as ow
from otel_workflow.cli import main
from otel_workflow.diagnosis.recording import DiagnosisSpanProcessor
from otel_workflow.store import CorruptStoreError
from tests.diagnosis.conftest import Recorded

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@ow.step(capture="args")
def insert_order(ref: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE orders (ref TEXT UNIQUE)")
    conn.execute("INSERT INTO orders VALUES (?)", ("dup",))
    conn.execute("INSERT INTO orders VALUES (?)", (ref,))


@ow.workflow
def place(ref: str) -> None:
    insert_order(ref)


def _workload(recorded: Recorded) -> str:
    for ref in ["a", "dup", "b", "dup", "<script>alert(1)</script>"]:
        try:
            place(ref)
        except sqlite3.IntegrityError:
            pass
    recorded.flush()
    return str(sqlite3.connect(recorded.path).execute(
        "SELECT fingerprint FROM diagnosis_groups").fetchone()[0])  # fmt: skip


def test_markdown_and_json_reports_show_the_group(recorded: Recorded) -> None:
    """The report lists the group with its count, suggestion naming the constraint, evidence."""
    fp = _workload(recorded)
    markdown = ow.error_report(since="1h", format="markdown", store=recorded.path)
    assert fp in markdown and "orders.ref" in markdown and "ref='dup'" in markdown
    data = json.loads(ow.error_report(since="1h", format="json", store=recorded.path))
    group = data["groups"][fp]
    assert (group["category"], group["window_count"], data["by_count"]) == ("constraint", 2, [fp])


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="headless Chromium (/usr/bin/chromium) is not installed")  # noqa: E501
def test_html_report_renders_in_headless_chromium(recorded: Recorded, tmp_path: Path) -> None:
    """Chromium renders the page: the group, its variables and escaped user text are there."""
    fp = _workload(recorded)
    page = tmp_path / "errors.html"
    page.write_text(ow.error_report(since="1h", format="html", store=recorded.path))
    assert "<script>alert(1)</script>" not in page.read_text()
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout  # fmt: skip
    assert f'id="g-{fp}"' in dom
    assert "Variables at the failing frame" in dom and "orders.ref" in dom
    shot = tmp_path / "errors.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    assert shot.stat().st_size > 10_000


def test_cli_lists_shows_and_resolves(recorded: Recorded, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: E501
    """`errors`, `errors show` and `errors resolve` work on the store."""
    fp = _workload(recorded)
    store = str(recorded.path)
    assert main(["errors", "--store", store, "--since", "1h"]) == 0
    assert fp in capsys.readouterr().out
    assert main(["errors", "show", fp, "--store", store]) == 0
    assert "constraint" in capsys.readouterr().out
    assert main(["errors", "resolve", fp, "--note", "upsert on orders.ref", "--store", store]) == 0
    capsys.readouterr()
    assert main(["errors", "show", fp, "--store", store, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["resolution"] == "upsert on orders.ref"


def test_bad_targets_are_clear_errors(recorded: Recorded) -> None:
    """Not an exception/span/id is a TypeError; an unknown id a LookupError; bad options too."""
    with pytest.raises(TypeError, match="diagnose"):
        ow.diagnose(42, store=recorded.path)
    with pytest.raises(LookupError, match="neither an execution id nor"):
        ow.diagnose("no-such-id", store=recorded.path)
    with pytest.raises(ValueError, match="since"):
        ow.diagnose(ValueError("x"), since="soon")
    with pytest.raises(ValueError, match="format"):
        ow.error_report(format="pdf", store=recorded.path)
    with pytest.raises(LookupError, match="no error group"):
        ow.resolve("0123456789abcdef", "note", store=recorded.path)


def test_corrupt_store_is_refused_untouched_and_live_diagnosis_still_works(tmp_path: Path) -> None:
    """A corrupt file is refused with a clear error, left as it was; diagnose(exc) notes it."""
    bad = tmp_path / "bad.db"
    content = b"not a database at all" * 100
    bad.write_bytes(content)
    with pytest.raises(CorruptStoreError, match="not a readable otel-workflow store"):
        DiagnosisSpanProcessor(bad)
    d = ow.diagnose(KeyError("sku"), store=bad)
    assert d.category == "programming"
    assert any("not a readable" in n for n in d.notes)
    assert main(["errors", "--store", str(bad)]) == 1
    assert bad.read_bytes() == content


def test_missing_store_is_a_clear_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: E501
    """`errors` on a missing store fails with a message naming the path, creating nothing."""
    missing = tmp_path / "missing.db"
    assert main(["errors", "--store", str(missing)]) == 1
    assert str(missing) in capsys.readouterr().err
    assert not missing.exists()


def test_log_record_with_exception_attributes_is_diagnosed() -> None:
    """An OpenTelemetry log record's exception.* attributes are categorised and grouped."""
    import traceback

    from opentelemetry._logs import LogRecord

    try:
        {}["sku"]
    except KeyError as exc:
        text = "".join(traceback.format_exception(exc))
        live = ow.diagnose(exc)
    record = LogRecord(attributes={"exception.type": "KeyError", "exception.message": "'sku'",
                                   "exception.stacktrace": text}, body="lookup failed")  # fmt: skip
    d = ow.diagnose(record)
    assert (d.category, d.fingerprint) == ("programming", live.fingerprint)
    with pytest.raises(TypeError, match="log record"):
        from otel_workflow.diagnosis.api import diagnose_log_record

        diagnose_log_record(object())


@ow.step
def parse_row(row: str) -> None:
    raise ValueError(f"bad row:\n{row}\x1b[31m red")


def test_cli_table_keeps_a_multi_line_message_on_its_row(
    recorded: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    """A message's newline and escape code are shown escaped: one line per group, no ESC."""
    with pytest.raises(ValueError):
        parse_row("a;b")
    recorded.flush()
    (fp,) = [r[0] for r in sqlite3.connect(recorded.path).execute(
        "SELECT fingerprint FROM diagnosis_groups")]  # fmt: skip
    assert main(["errors", "--store", str(recorded.path), "--since", "1h"]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if fp in line]
    assert "ValueError: bad row:\\na;b\\x1b[" in row
    assert "\x1b" not in out
    assert not any(line.startswith(("a;b", "\x1b")) for line in out.splitlines())
