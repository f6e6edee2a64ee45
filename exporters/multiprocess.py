"""One correct ``/metrics`` across worker processes (gunicorn, Celery prefork, ...).

Every process that instruments code writes its metric families to
``<dir>/otel-workflow-<pid>.json`` (atomically, every ``interval`` seconds and at exit);
whichever process serves ``/metrics`` reads all of them and sums.  Counters and histograms
of exited workers are kept (they happened); gauges (active executions, memory) count only
live processes.  Point every worker at the same, initially empty, directory and clear it
when the whole application restarts, as with ``prometheus_client``'s multiprocess mode.
``configure(multiprocess_dir=...)`` or ``OTEL_WORKFLOW_MULTIPROC_DIR`` turns it on.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from pathlib import Path

from otel_workflow._guard import report_internal_error
from otel_workflow.exporters.aggregates import (
    MetricFamily,
    collect_families,
    families_from_json,
    families_to_json,
    merge,
)
from otel_workflow.exporters.prometheus import WorkflowCollector

_PREFIX = "otel-workflow-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_snapshot(directory: str | os.PathLike[str]) -> Path:
    """Write this process's families to the shared directory; returns the file."""
    path = Path(directory) / f"{_PREFIX}{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(families_to_json(collect_families())), encoding="utf-8")
    os.replace(tmp, path)  # readers never see a half-written file
    return path


def read_all(directory: str | os.PathLike[str]) -> list[MetricFamily]:
    """The families of every process in the directory, this one read live, summed."""
    own = os.getpid()
    processes: list[tuple[list[MetricFamily], bool]] = [(collect_families(), True)]
    for path in sorted(Path(directory).glob(f"{_PREFIX}*.json")):
        try:
            pid = int(path.stem.removeprefix(_PREFIX))
        except ValueError:
            continue
        if pid == own:
            continue
        try:
            families = families_from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report_internal_error("exporter.multiprocess", exc)
            continue
        processes.append((families, _pid_alive(pid)))
    return merge(processes)


class MultiprocessCollector(WorkflowCollector):
    """Serves the sum over every worker writing to ``directory``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        directory = Path(directory)
        if not directory.is_dir():
            raise ValueError(f"multiprocess directory {str(directory)!r} does not exist")
        super().__init__(lambda: read_all(directory))


class SnapshotWriter:
    """Writes this process's families to the shared directory periodically and at exit."""

    def __init__(self, directory: str | os.PathLike[str], interval: float = 1.0) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ValueError(f"multiprocess directory {str(directory)!r} does not exist")
        if interval <= 0:
            raise ValueError(f"snapshot interval must be > 0 seconds, got {interval!r}")
        self.interval = interval
        self._start()
        atexit.register(self.close)
        # A forked worker (gunicorn, Celery prefork) has no threads: start its own writer.
        os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="otel-workflow-multiprocess", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        try:
            write_snapshot(self.directory)
        except Exception as exc:
            report_internal_error("exporter.multiprocess", exc)

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=5)
            self.flush()
