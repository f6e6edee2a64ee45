"""Prefork ``/metrics`` under a real gunicorn with three workers sharing a directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from otel_workflow import semconv
from otel_workflow._polling import wait_until
from tests.integration._exposition import sample_sum

pytestmark = pytest.mark.integration

# _gunicorn_app.JOB; not imported, since importing the app module runs configure().
JOB = "gunicorn_job"
WORKERS = 3
REQUESTS = 600
JOB_LABELS = {semconv.PROM_LABEL_WORKFLOW: JOB}
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


class Gunicorn:
    """A gunicorn master on 127.0.0.1 serving ``_gunicorn_app`` (stopped at the end)."""

    def __init__(self, tmp: Path, preload: bool) -> None:
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
        if gunicorn is None:
            pytest.skip("needs gunicorn (the dev extra)")
        self.port, self.metrics_port = _free_port(), _free_port()
        directory = tmp / "multiproc"
        directory.mkdir()
        env = dict(os.environ, OTEL_WORKFLOW_MULTIPROC_DIR=str(directory),
                   OTEL_WORKFLOW_METRICS_PORT=str(self.metrics_port),
                   PYTHONPATH=str(ROOT))  # fmt: skip
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        args = [gunicorn, "-w", str(WORKERS), "-b", f"127.0.0.1:{self.port}",
                "--graceful-timeout", "5", "tests.integration._gunicorn_app:app"]  # fmt: skip
        if preload:
            args.insert(1, "--preload")
        self.log = (tmp / "gunicorn.log").open("w")
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)  # fmt: skip
        wait_until(lambda: len(self.workers()) == WORKERS and self._answers(), 60, interval=0.1)

    def _answers(self) -> bool:
        try:
            _get(f"http://127.0.0.1:{self.port}/ping")
        except OSError:
            return False
        return True

    def workers(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def work(self) -> int:
        return int(_get(f"http://127.0.0.1:{self.port}/work"))

    def mounted(self) -> str:
        return _get(f"http://127.0.0.1:{self.port}/metrics")

    def on_port(self) -> str:
        return _get(f"http://127.0.0.1:{self.metrics_port}/metrics")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()
        return Path(self.log.name).read_text()


@pytest.fixture(params=[False, True], ids=["per-worker", "preload"])
def gunicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gunicorn]:
    """Gunicorn with three workers, each configure()d with one metrics port and directory."""
    if not Path("/proc/self/task").exists():
        pytest.skip("needs /proc to find gunicorn's workers")
    server = Gunicorn(tmp_path, preload=request.param)
    try:
        yield server
    finally:
        log = server.stop()
        assert "Worker failed to boot" not in log, log


def _executions(text: str) -> float:
    return sample_sum(text, semconv.PROM_WORKFLOW_EXECUTIONS, **JOB_LABELS)


def _port_holder(port: int) -> int | None:
    """The pid whose socket listens on 127.0.0.1:``port`` (from /proc/net/tcp)."""
    inodes = {line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
              if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"}  # fmt: skip
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return int(proc.name)
    return None


def test_every_scrape_is_the_sum_over_workers(gunicorn: Gunicorn) -> None:
    """Mounted app and port both show all 600 executions, whichever worker answers."""
    with ThreadPoolExecutor(6) as pool:
        pids = set(pool.map(lambda _: gunicorn.work(), range(REQUESTS)))
    assert len(pids) > 1, "all requests landed on one worker; the sum was not exercised"
    expected = REQUESTS
    seen: list[float] = []
    wait_until(lambda: seen.append(_executions(gunicorn.mounted())) or seen[-1] == expected,
               30, interval=0.2, error=lambda: AssertionError(seen[-5:]))  # fmt: skip
    for _ in range(10):  # consecutive scrapes land on different workers
        assert _executions(gunicorn.mounted()) == expected
        assert _executions(gunicorn.on_port()) == expected


def test_killed_worker_keeps_counts_and_the_port(gunicorn: Gunicorn) -> None:
    """SIGKILL the worker holding the port: counts never go down and the port comes back."""
    for _ in range(60):
        gunicorn.work()
    before = _executions(gunicorn.on_port())
    holder = _port_holder(gunicorn.metrics_port)
    assert holder is not None
    victim = holder if holder in gunicorn.workers() else gunicorn.workers()[0]
    os.kill(victim, signal.SIGKILL)
    seen = [before]

    def answers_again() -> bool:
        for scrape in (gunicorn.mounted, gunicorn.on_port):
            try:
                seen.append(_executions(scrape()))
            except OSError:
                return False
        return victim not in gunicorn.workers()

    wait_until(answers_again, 30, interval=0.1)
    assert seen == sorted(seen), f"a counter went down between scrapes: {seen}"
    # Everything flushed before the kill (all but the last interval) is still counted.
    assert seen[-1] >= before


def test_process_pid_is_each_workers_own(gunicorn: Gunicorn) -> None:
    """target_info's process_pid is the answering worker's pid, also under --preload."""
    pids: set[str] = set()
    for _ in range(30):
        for family in text_string_to_metric_families(gunicorn.mounted()):
            if family.name in ("target", "target_info"):
                (sample,) = family.samples
                assert sample.labels["service_name"] == "gunicorn-it"
                pids.add(sample.labels["process_pid"])
    workers = {str(pid) for pid in gunicorn.workers()}
    assert pids and pids <= workers, (pids, workers, gunicorn.process.pid)
