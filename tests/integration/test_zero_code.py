"""The README's zero-code example: an unmodified module under ``opentelemetry-instrument``.

``OTEL_WORKFLOW_INSTRUMENT=... opentelemetry-instrument python -m shop.jobs`` in a child
process: the module runs as ``__main__`` and its functions become a workflow and a step,
whose spans reach an OTLP receiver, whose rows reach the store named by
``OTEL_WORKFLOW_STORE`` and whose metrics are on ``OTEL_WORKFLOW_METRICS_PORT``.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import urllib.request
from pathlib import Path

import pytest

from otel_workflow import semconv
from otel_workflow._polling import wait_until
from tests.support.otlp_receiver import OTLPReceiver

pytestmark = pytest.mark.integration

# The user's code, unchanged: no otel_workflow import, a __main__ block that calls it.
# It waits for a line on stdin after its work so the test can scrape /metrics first.
JOBS = '''
import sys


class Loader:
    def load(self, n):
        return n * 2


def nightly_sync(n):
    return Loader().load(n) + 1


if __name__ == "__main__":
    print("results", [nightly_sync(n) for n in range(3)], flush=True)
    sys.stdin.readline()
'''

RUNS = 3


def _instrument_command() -> Path:
    command = Path(sys.executable).parent / "opentelemetry-instrument"
    if not command.exists():
        pytest.skip("opentelemetry-instrument is missing: pip install 'otel-workflow[zero-code]'")
    return command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_shop(root: Path) -> None:
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (root / "shop" / "jobs.py").write_text(textwrap.dedent(JOBS), encoding="utf-8")


def test_opentelemetry_instrument_python_m_gives_spans_rows_and_metrics(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    """An unmodified `python -m shop.jobs` under opentelemetry-instrument is fully instrumented."""
    command = _instrument_command()
    _write_shop(tmp_path)
    store = tmp_path / "zero-code.db"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({
        "OTEL_WORKFLOW_INSTRUMENT": "shop.jobs:nightly_sync=workflow,shop.jobs:Loader.load",
        "OTEL_WORKFLOW_STORE": str(store),
        "OTEL_WORKFLOW_METRICS_PORT": str(port),
        "OTEL_SERVICE_NAME": "shop",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    })  # fmt: skip
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [str(command), "python", "-m", "shop.jobs"], cwd=tmp_path, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith("results") for line in lines)
                   or proc.poll() is not None, timeout=120)  # fmt: skip
        assert proc.poll() is None, stderr_path.read_text()
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        proc.stdin.write("done\n")
        proc.stdin.close()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    reader.join(timeout=10)
    err = stderr_path.read_text()
    assert proc.returncode == 0, err
    assert "results [1, 3, 5]" in "".join(lines)  # the user's results are unchanged
    assert "found in sys.modules" not in err  # the module was not imported twice

    text = body.decode()
    executions = [line for line in text.splitlines()
                  if line.startswith("workflow_executions_total{")
                  and 'workflow_name="nightly_sync"' in line]  # fmt: skip
    assert len(executions) == 1 and executions[0].endswith(f" {float(RUNS)}"), text

    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM executions WHERE workflow = 'nightly_sync' "
                          "AND status = 'ok'").fetchone() == (RUNS,)  # fmt: skip
        assert db.execute("SELECT COUNT(*) FROM steps WHERE step = 'Loader.load'"
                          ).fetchone() == (RUNS,)  # fmt: skip

    def spans_arrived(receiver: OTLPReceiver) -> bool:
        return len(receiver.spans()) >= 2 * RUNS

    otlp_receiver.wait_until(spans_arrived, timeout=60)
    spans = otlp_receiver.spans()
    workflows = [s for s in spans if s.attributes.get(semconv.WORKFLOW_SPAN_KIND)
                 == semconv.SPAN_KIND_WORKFLOW]  # fmt: skip
    steps = [s for s in spans if s.attributes.get(semconv.STEP_NAME) == "Loader.load"]
    assert len(workflows) == RUNS and len(steps) == RUNS
    assert {w.attributes[semconv.WORKFLOW_NAME] for w in workflows} == {"nightly_sync"}
    assert {s.parent_span_id for s in steps} == {w.span_id for w in workflows}
