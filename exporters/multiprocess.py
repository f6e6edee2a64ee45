"""One correct ``/metrics`` across worker processes (gunicorn, Celery prefork, ...).

Every process that instruments code writes its metric families to
``<dir>/otel-workflow-<pid>.json`` (atomically, every ``interval`` seconds — 1 s by default —
and at exit).  A scrape, in whichever process it lands, first writes that process's own file
and then reads only files, under a lock on the directory, so every process serves the same
numbers and a counter never goes down from one scrape to the next, whichever worker answers.

Exited workers: their counters and histograms are kept (they happened) up to their last
write — a SIGKILLed worker loses at most its last ``interval`` of counts, which no scrape had
seen yet either.  A scrape *folds* every dead worker's file into one archive
(``otel-workflow.archive.json``) and deletes it, so scrape time depends on the live workers
only; gauges (active executions, memory) of dead workers are dropped.  A process whose pid
is reused finds the dead predecessor's file and folds it before writing its own.

Point every worker at the same, initially empty, directory and clear it when the whole
application restarts, as with ``prometheus_client``'s multiprocess mode.
``configure(multiprocess_dir=...)`` or ``OTEL_WORKFLOW_MULTIPROC_DIR`` turns it on; the
mounted ``/metrics`` apps pick the directory up from either.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from otel_workflow._guard import report_internal_error
from otel_workflow.exporters.aggregates import (
    MetricFamily,
    collect_families,
    families_from_json,
    families_to_json,
    merge,
)

DEFAULT_INTERVAL = 1.0
"""Seconds between two writes of a process's file (the most a SIGKILL can lose)."""

_PREFIX = "otel-workflow-"
_ARCHIVE = "otel-workflow.archive.json"  # not matched by the per-process glob
_LOCK = "otel-workflow.lock"

_state_lock = threading.Lock()
_active: Path | None = None  # the directory this process's SnapshotWriter writes to
_written: set[Path] = set()  # directories this process (this pid) has written its file in


def _after_fork() -> None:
    global _state_lock
    _state_lock = threading.Lock()  # a parent thread may have held it
    _written.clear()  # the child has a new pid: its file is a new one


os.register_at_fork(after_in_child=_after_fork)


def active_directory() -> Path | None:
    """The directory this process's :class:`SnapshotWriter` writes to, if any."""
    return _active


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Exclusive lock on the directory, across processes and threads (flock per open)."""
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _own_path(directory: Path) -> Path:
    return directory / f"{_PREFIX}{os.getpid()}.json"  # the pid now, never a cached one


def _load(path: Path) -> list[MetricFamily] | None:
    try:
        return families_from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report_internal_error("exporter.multiprocess", exc)
        return None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)  # readers never see a half-written file


def _read_archive(directory: Path) -> list[MetricFamily]:
    return _load(directory / _ARCHIVE) or []


def _fold(directory: Path, dead: list[tuple[Path, list[MetricFamily]]]) -> list[MetricFamily]:
    """Add dead processes' counters to the archive and delete their files (lock held)."""
    archive = _read_archive(directory)
    if not dead:
        return archive
    # alive=False drops per-process gauges; the archive only ever holds cumulative values.
    archive = merge([(archive, False), *((families, False) for _, families in dead)])
    _write_json(directory / _ARCHIVE, families_to_json(archive))
    for path, _ in dead:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return archive


def write_snapshot(directory: str | os.PathLike[str], *, locked: bool = False) -> Path:
    """Write this process's families to the shared directory; returns the file.

    The first write of a process folds a file left under its pid by a dead process (pid
    reuse) instead of overwriting it.  ``locked``: the caller holds the directory lock.
    """
    directory = Path(directory)
    if directory not in _written:
        if locked:
            _claim(directory)
        else:
            with _locked(directory):
                _claim(directory)
    path = _own_path(directory)
    with _state_lock:
        # Collect and write under one lock: two threads must not replace a newer file
        # with an older reading (a counter would go down for every other reader).
        _write_json(path, families_to_json(collect_families()))
    return path


def _claim(directory: Path) -> None:
    """Before this pid's first write (directory lock held): fold a dead namesake's file."""
    if directory in _written:
        return
    path = _own_path(directory)
    stale = _load(path)
    if stale is not None:
        _fold(directory, [(path, stale)])
    _written.add(directory)


def read_all(directory: str | os.PathLike[str]) -> list[MetricFamily]:
    """The families of every process that wrote to the directory, summed.

    This process's file is written first, then only files are read: every process serving
    ``/metrics`` answers with the same, never decreasing, numbers.
    """
    directory = Path(directory)
    with _locked(directory):
        write_snapshot(directory, locked=True)
        live: list[tuple[list[MetricFamily], bool]] = []
        dead: list[tuple[Path, list[MetricFamily]]] = []
        for path in sorted(directory.glob(f"{_PREFIX}*.json")):
            try:
                pid = int(path.stem.removeprefix(_PREFIX))
            except ValueError:
                continue
            families = _load(path)
            if families is None:
                continue
            if _pid_alive(pid):
                live.append((families, True))
            else:
                dead.append((path, families))
        archive = _fold(directory, dead)
    return merge([(archive, True), *live])


class SnapshotWriter:
    """Writes this process's families to the shared directory periodically and at exit."""

    def __init__(
        self, directory: str | os.PathLike[str], interval: float = DEFAULT_INTERVAL
    ) -> None:
        global _active
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ValueError(f"multiprocess directory {str(directory)!r} does not exist")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise ValueError(f"snapshot interval must be > 0 seconds, got {interval!r}")
        self.interval = float(interval)
        _active = self.directory
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
        self.flush()  # a new worker is visible (with its pid-reuse fold done) at once
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        try:
            write_snapshot(self.directory)
        except Exception as exc:
            report_internal_error("exporter.multiprocess", exc)

    def close(self) -> None:
        global _active
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=5)
            self.flush()
            if _active == self.directory:
                _active = None
