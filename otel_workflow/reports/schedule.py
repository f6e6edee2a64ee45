"""Run a job (sending a report) on a schedule: every fixed interval or by a cron expression.

>>> handle = ow.schedule_report(cron="0 8 * * *", to=["owner@example.com"],
...                             smtp=SmtpSettings(host="smtp.example.com", mode="starttls"),
...                             store="otel-workflow.db",
...                             state_path="otel-workflow.schedule.json")  # doctest: +SKIP
>>> handle.stop()  # doctest: +SKIP

Guarantees:

* **Missed runs are sent once.**  The last slot handled is persisted (atomically: a temporary
  file, fsync, rename) in ``state_path``.  After downtime that spans one or more slots, the
  scheduler sends one report for the latest missed slot, then carries on with the schedule.
* **Never twice after a restart.**  A slot is marked done right after its report is sent, and
  every decision re-reads the state file under an exclusive file lock, so a restarted process
  (or a second process sharing the state file) does not send the same slot again.
* **Failures are retried with exponential backoff** (``backoff``, doubling, capped at
  ``max_backoff``) and logged; after ``max_attempts`` failures the slot is given up (logged as
  an error) and the next slot is awaited.

Without ``state_path`` the state lives in memory only, so downtime cannot be detected.
The clock is injectable (``clock=``) and :meth:`ReportScheduler.run_pending` takes ``now``,
so tests drive the scheduler without sleeping.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Protocol

from otel_workflow._guard import report_internal_error
from otel_workflow.analytics.timerange import parse_duration as _parse_duration

try:  # POSIX; elsewhere a state file is used by one process at a time
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

_logger = logging.getLogger("otel_workflow.reports.schedule")

Clock = Callable[[], datetime]
Job = Callable[[datetime], object]
"""Called with the slot (the scheduled time) being handled; raising means failure."""

_STATE_VERSION = 1
_MAX_WAIT_SECONDS = 60.0  # re-check at least this often, so clock jumps are noticed


def utc_now() -> datetime:
    """The default clock: the current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def parse_duration(value: str | timedelta, what: str = "duration") -> timedelta:
    """A positive timedelta from ``"90s"``, ``"15m"``, ``"12h"``, ``"1d"``, ``"1w"`` or one.

    Errors name the argument: ``every: malformed duration 'soon' ...``.
    """
    try:
        return _parse_duration(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from None


class Schedule(Protocol):
    """When slots fall: strictly after, and at or before, a given time."""

    @property
    def key(self) -> str: ...

    def next_after(self, dt: datetime) -> datetime: ...

    def latest_at_or_before(self, dt: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class IntervalSchedule:
    """Slots every ``every`` on a grid starting at ``anchor``."""

    every: timedelta
    anchor: datetime

    @property
    def key(self) -> str:
        """Identifies the schedule in the state file."""
        return f"every:{self.every.total_seconds():g}s"

    def next_after(self, dt: datetime) -> datetime:
        """The first slot strictly after ``dt``."""
        if dt < self.anchor:
            return self.anchor + self.every
        periods = (dt - self.anchor) // self.every
        return self.anchor + (periods + 1) * self.every

    def latest_at_or_before(self, dt: datetime) -> datetime | None:
        """The last slot at or before ``dt`` (None before the first slot)."""
        if dt < self.anchor + self.every:
            return None
        return self.anchor + ((dt - self.anchor) // self.every) * self.every


class CronSchedule:
    """Slots at the times a cron expression matches, evaluated in ``tz`` (default UTC)."""

    def __init__(self, expr: str, tz: tzinfo | None = None) -> None:
        try:
            from cronsim import CronSim, CronSimError
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
            raise ModuleNotFoundError(
                "cron schedules need the 'schedule' extra: pip install 'otel-workflow[schedule]'",
                name=exc.name,
            ) from exc
        if not isinstance(expr, str):
            raise TypeError(f"cron must be a string, got {type(expr).__name__}")
        self._cronsim = CronSim
        self.expr = expr
        self.tz = tz or timezone.utc
        try:
            CronSim(expr, datetime.now(self.tz))
        except CronSimError as exc:
            raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None

    @property
    def key(self) -> str:
        """Identifies the schedule in the state file."""
        return f"cron:{self.expr}@{self.tz}"

    def next_after(self, dt: datetime) -> datetime:
        """The first matching time strictly after ``dt``."""
        result: datetime = next(self._cronsim(self.expr, dt.astimezone(self.tz)))
        return result

    def latest_at_or_before(self, dt: datetime) -> datetime | None:
        """The last matching time at or before ``dt``."""
        # CronSim in reverse yields times strictly before its start, on whole seconds.
        start = dt.astimezone(self.tz).replace(microsecond=0) + timedelta(seconds=1)
        result: datetime = next(self._cronsim(self.expr, start, reverse=True))
        return result


@dataclass
class _State:
    schedule: str
    anchor: datetime
    last_slot: datetime | None = None
    last_sent_at: datetime | None = None
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(dt: datetime | None) -> str | None:
            return dt.isoformat() if dt is not None else None

        return {
            "version": _STATE_VERSION, "schedule": self.schedule, "anchor": iso(self.anchor),
            "last_slot": iso(self.last_slot), "last_sent_at": iso(self.last_sent_at),
            "last_error": self.last_error,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _State:
        def parse(value: object) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        anchor = parse(data.get("anchor"))
        if anchor is None:
            raise ValueError("state has no anchor")
        return cls(
            schedule=str(data.get("schedule", "")), anchor=anchor,
            last_slot=parse(data.get("last_slot")), last_sent_at=parse(data.get("last_sent_at")),
            last_error=data.get("last_error") if isinstance(data.get("last_error"), str) else None,
        )  # fmt: skip


class ReportScheduler:
    """Runs ``job`` at each slot of a schedule; see the module docstring for the guarantees.

    Use :func:`schedule_report` to email reports; this class takes any job, which is handy
    for custom deliveries.  Call :meth:`start` for a background thread, or drive it with
    :meth:`run_pending`.  ``on_stop`` is called once by :meth:`stop` (to release what the
    job holds, such as an engine's connection).
    """

    def __init__(
        self,
        job: Job,
        *,
        every: str | timedelta | None = None,
        cron: str | None = None,
        tz: tzinfo | None = None,
        state_path: str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        max_attempts: int = 5,
        backoff: str | timedelta = "1m",
        max_backoff: str | timedelta = "1h",
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        if not callable(job):
            raise TypeError("job must be callable")
        if (every is None) == (cron is None):
            raise ValueError("give exactly one of every= or cron=")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an int >= 1, got {max_attempts!r}")
        self._job = job
        self._clock: Clock = clock or utc_now
        self._backoff = parse_duration(backoff, "backoff")
        self._max_backoff = parse_duration(max_backoff, "max_backoff")
        self._max_attempts = max_attempts
        self._state_path = Path(state_path) if state_path is not None else None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempts = 0
        self._retry_at: datetime | None = None
        self._on_stop = on_stop
        now = self._now()
        self._every = parse_duration(every, "every") if every is not None else None
        self._cron = CronSchedule(cron, tz) if cron is not None else None
        self._key = (
            self._cron.key if self._cron is not None
            else f"every:{self._every.total_seconds():g}s"  # type: ignore[union-attr]
        )  # fmt: skip
        with self._locked_state(now) as state:
            self._state = state

    # --- public API -------------------------------------------------------------------------
    @property
    def schedule(self) -> Schedule:
        """The schedule in force (an interval schedule is anchored at the first start)."""
        return self._schedule_for(self._state)

    @property
    def last_slot(self) -> datetime | None:
        """The last slot handled (sent, or given up after ``max_attempts`` failures)."""
        return self._state.last_slot

    def next_run(self) -> datetime:
        """When :meth:`run_pending` next has something to do (a slot or a retry)."""
        with self._lock:
            if self._retry_at is not None:
                return self._retry_at
            state = self._state
            return self._schedule_for(state).next_after(state.last_slot or state.anchor)

    def run_pending(self, now: datetime | None = None) -> bool:
        """Run the job if a slot (or a retry) is due at ``now``; True if it ran and succeeded.

        Several missed slots are coalesced into one run, for the latest of them.
        """
        now = self._check_now(now) if now is not None else self._now()
        with self._lock, self._locked_state(now) as state:
            self._state = state
            schedule = self._schedule_for(state)
            due = schedule.latest_at_or_before(now)
            if due is None or due <= (state.last_slot or state.anchor):
                self._attempts, self._retry_at = 0, None
                return False
            if self._retry_at is not None and now < self._retry_at:
                return False
            try:
                self._job(due)
            except Exception as exc:
                self._failed(state, due, now, exc)
                return False
            _logger.info("scheduled report for slot %s sent", due.isoformat())
            state.last_slot, state.last_sent_at, state.last_error = due, now, None
            self._attempts, self._retry_at = 0, None
            self._save(state)
            return True

    def start(self) -> ReportScheduler:
        """Run in a daemon thread until :meth:`stop`; returns self."""
        with self._lock:
            if self._thread is not None:
                return self
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="otel-workflow-report-scheduler", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the background thread (if any), wait up to ``timeout`` s for it, run ``on_stop``."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        on_stop, self._on_stop = self._on_stop, None
        if on_stop is not None:
            on_stop()

    def __enter__(self) -> ReportScheduler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- internals --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
                wait = (self.next_run() - self._now()).total_seconds()
            except Exception as exc:  # the scheduler thread must survive its own bugs
                report_internal_error("reports.schedule", exc)
                wait = _MAX_WAIT_SECONDS
            self._stop.wait(min(max(wait, 0.01), _MAX_WAIT_SECONDS))

    def _failed(self, state: _State, due: datetime, now: datetime, exc: Exception) -> None:
        self._attempts += 1
        if self._attempts >= self._max_attempts:
            _logger.error(
                "scheduled report for slot %s failed %d times; giving up on this slot",
                due.isoformat(), self._attempts, exc_info=exc,
            )  # fmt: skip
            state.last_slot, state.last_error = due, f"{type(exc).__name__}: {exc}"
            self._attempts, self._retry_at = 0, None
            self._save(state)
            return
        delay = min(self._backoff * (2 ** (self._attempts - 1)), self._max_backoff)
        self._retry_at = now + delay
        _logger.warning(
            "scheduled report for slot %s failed (attempt %d of %d); retrying at %s",
            due.isoformat(), self._attempts, self._max_attempts, self._retry_at.isoformat(),
            exc_info=exc,
        )  # fmt: skip

    def _schedule_for(self, state: _State) -> Schedule:
        if self._cron is not None:
            return self._cron
        assert self._every is not None
        return IntervalSchedule(self._every, state.anchor)

    def _now(self) -> datetime:
        return self._check_now(self._clock())

    @staticmethod
    def _check_now(now: datetime) -> datetime:
        if not isinstance(now, datetime):
            raise TypeError(f"now must be a datetime, got {type(now).__name__}")
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return now

    @contextlib.contextmanager
    def _locked_state(self, now: datetime) -> Iterator[_State]:
        """The current state, read under an exclusive lock on the state file (if any)."""
        if self._state_path is None:
            state = getattr(self, "_state", None) or _State(self._key, anchor=now)
            yield state
            return
        lock_path = self._state_path.with_name(self._state_path.name + ".lock")
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+b") as lock_file:
            if fcntl is not None:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield self._load(now)
            finally:
                if fcntl is not None:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _load(self, now: datetime) -> _State:
        assert self._state_path is not None
        key = self._key
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("version") != _STATE_VERSION:
                raise ValueError(f"unsupported state version {data.get('version')!r}")
            state = _State.from_json(data)
        except FileNotFoundError:
            state = _State(key, anchor=now)
            self._save(state)
            return state
        except (ValueError, OSError) as exc:
            # Refuse to guess: a damaged state file could mean double sends or lost ones.
            raise ValueError(f"cannot read schedule state {self._state_path}: {exc}") from exc
        if state.schedule != key:
            _logger.warning(
                "schedule changed from %s to %s; starting it afresh from now",
                state.schedule, key,
            )  # fmt: skip
            state = _State(key, anchor=now)
            self._save(state)
        return state

    def _save(self, state: _State) -> None:
        self._state = state
        if self._state_path is None:
            return
        directory = self._state_path.parent
        fd, tmp = tempfile.mkstemp(prefix=self._state_path.name, suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state.to_json(), handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._state_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable where supported
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
