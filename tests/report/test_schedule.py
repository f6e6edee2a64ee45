"""Report schedules driven by an injected clock: interval, cron, missed runs, restarts, retries."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from otel_workflow.reports.schedule import ReportScheduler

T0 = datetime(2026, 3, 2, 7, 30, tzinfo=timezone.utc)  # a Monday


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Job:
    """Records the slots it was called for; fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.slots: list[datetime] = []
        self.calls = 0
        self.failures = failures
        self.called = threading.Event()

    def __call__(self, slot: datetime) -> None:
        self.calls += 1
        self.called.set()
        if self.calls <= self.failures:
            raise ConnectionError(f"SMTP down (call {self.calls})")
        self.slots.append(slot)


def test_interval_runs_once_per_slot() -> None:
    """An hourly schedule runs at each hour after the start, once per slot."""
    clock, job = Clock(T0), Job()
    sched = ReportScheduler(job, every="1h", clock=clock)
    assert sched.next_run() == T0 + timedelta(hours=1)
    assert sched.run_pending(clock.advance(minutes=59)) is False
    assert sched.run_pending(clock.advance(minutes=1)) is True
    assert sched.run_pending(clock.advance(minutes=5)) is False  # same slot: not again
    assert sched.run_pending(clock.advance(minutes=55)) is True
    assert job.slots == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert sched.next_run() == T0 + timedelta(hours=3)


def test_cron_runs_at_matching_times() -> None:
    """A cron schedule runs at each matching time (08:00 on weekdays), not in between."""
    clock, job = Clock(T0), Job()
    sched = ReportScheduler(job, cron="0 8 * * 1-5", clock=clock)
    assert sched.next_run() == datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    assert sched.run_pending(clock.advance(minutes=29)) is False
    assert sched.run_pending(clock.advance(minutes=1)) is True
    clock.now = datetime(2026, 3, 6, 8, 0, 30, tzinfo=timezone.utc)  # Friday: Tue-Thu missed
    assert sched.run_pending() is True
    clock.now = datetime(2026, 3, 8, 12, 0, tzinfo=timezone.utc)  # Sunday: no slot since Friday
    assert sched.run_pending() is False
    assert sched.next_run() == datetime(2026, 3, 9, 8, 0, tzinfo=timezone.utc)
    assert job.slots == [
        datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc),
        datetime(2026, 3, 6, 8, 0, tzinfo=timezone.utc),
    ]


def test_cron_honours_time_zone() -> None:
    """A cron expression is evaluated in the given time zone."""
    clock, job = Clock(T0), Job()
    berlin = ZoneInfo("Europe/Berlin")
    sched = ReportScheduler(job, cron="0 8 * * *", tz=berlin, clock=clock)
    assert sched.next_run() == datetime(2026, 3, 3, 8, 0, tzinfo=berlin)  # 07:00 UTC next day


def test_missed_runs_after_downtime_are_sent_once(tmp_path: Path) -> None:
    """After downtime spanning several slots, one run is made (for the latest slot)."""
    state = tmp_path / "state.json"
    clock, job = Clock(T0), Job()
    first = ReportScheduler(job, every="1h", clock=clock, state_path=state)
    assert first.run_pending(clock.advance(hours=1)) is True
    first.stop()
    # Down for five hours and a half: slots at T0+2h..T0+6h are missed.
    clock.advance(hours=5, minutes=30)
    second = ReportScheduler(job, every="1h", clock=clock, state_path=state)
    assert second.run_pending() is True
    assert second.run_pending() is False
    assert second.run_pending(clock.advance(minutes=20)) is False
    assert job.slots == [T0 + timedelta(hours=1), T0 + timedelta(hours=6)]


def test_restart_does_not_send_a_slot_twice(tmp_path: Path) -> None:
    """A restarted scheduler reads the persisted state and does not repeat a sent slot."""
    state = tmp_path / "state.json"
    clock, job = Clock(T0), Job()
    sched = ReportScheduler(job, cron="0 8 * * *", clock=clock, state_path=state)
    assert sched.run_pending(clock.advance(hours=1)) is True
    sched.stop()
    for _ in range(3):  # restart repeatedly within the same day
        restarted = ReportScheduler(job, cron="0 8 * * *", clock=clock, state_path=state)
        assert restarted.run_pending(clock.advance(minutes=10)) is False
        restarted.stop()
    assert job.slots == [datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)]
    saved = json.loads(state.read_text())
    assert saved["last_slot"] == "2026-03-02T08:00:00+00:00"


def test_two_schedulers_on_one_state_file_send_once(tmp_path: Path) -> None:
    """Two schedulers sharing a state file (as two processes would) send a slot only once."""
    state = tmp_path / "state.json"
    clock, job = Clock(T0), Job()
    a = ReportScheduler(job, every="1d", clock=clock, state_path=state)
    b = ReportScheduler(job, every="1d", clock=clock, state_path=state)
    clock.advance(days=1)
    assert [a.run_pending(), b.run_pending()] == [True, False]
    assert len(job.slots) == 1


def test_missed_first_slot_is_sent_after_restart(tmp_path: Path) -> None:
    """A process down at its very first slot sends it on restart (the start is persisted)."""
    state = tmp_path / "state.json"
    clock, job = Clock(T0), Job()
    ReportScheduler(job, every="1d", clock=clock, state_path=state).stop()
    clock.advance(days=1, hours=2)
    assert ReportScheduler(job, every="1d", clock=clock, state_path=state).run_pending() is True
    assert job.slots == [T0 + timedelta(days=1)]


def test_failures_are_retried_with_exponential_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing job is retried after 1, 2, 4 minutes (doubling) and each failure is logged."""
    clock, job = Clock(T0), Job(failures=3)
    sched = ReportScheduler(job, every="1h", clock=clock, backoff="1m", max_attempts=5)
    caplog.set_level(logging.WARNING, logger="otel_workflow.reports.schedule")
    slot = clock.advance(hours=1)
    assert sched.run_pending() is False  # attempt 1 fails
    assert sched.next_run() == slot + timedelta(minutes=1)
    assert sched.run_pending(clock.advance(seconds=59)) is False and job.calls == 1
    assert sched.run_pending(clock.advance(seconds=1)) is False  # attempt 2 fails
    assert sched.next_run() == clock.now + timedelta(minutes=2)
    assert sched.run_pending(clock.advance(minutes=2)) is False  # attempt 3 fails
    assert sched.next_run() == clock.now + timedelta(minutes=4)
    assert sched.run_pending(clock.advance(minutes=4)) is True  # attempt 4 succeeds
    assert job.calls == 4 and job.slots == [slot]
    failures = [r for r in caplog.records if "failed (attempt" in r.getMessage()]
    assert len(failures) == 3
    assert all(r.exc_info is not None for r in failures)
    assert sched.next_run() == T0 + timedelta(hours=2)


def test_backoff_is_capped() -> None:
    """The retry delay doubles up to max_backoff and no further."""
    clock, job = Clock(T0), Job(failures=10)
    sched = ReportScheduler(
        job, every="1d", clock=clock, backoff="1m", max_backoff="3m", max_attempts=10
    )
    clock.advance(days=1)
    delays = []
    for _ in range(4):
        sched.run_pending()
        delays.append(sched.next_run() - clock.now)
        clock.now = sched.next_run()
    assert delays == [timedelta(minutes=m) for m in (1, 2, 3, 3)]


def test_slot_is_given_up_after_max_attempts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After max_attempts failures the slot is abandoned, logged as an error, and persisted."""
    state = tmp_path / "state.json"
    clock, job = Clock(T0), Job(failures=100)
    sched = ReportScheduler(
        job, every="1h", clock=clock, backoff="1m", max_attempts=3, state_path=state
    )
    caplog.set_level(logging.WARNING, logger="otel_workflow.reports.schedule")
    clock.advance(hours=1)
    for _ in range(3):
        sched.run_pending()
        clock.now = sched.next_run()
    assert job.calls == 3
    assert clock.now == T0 + timedelta(hours=2)  # next is the following slot, not a retry
    assert any(r.levelno == logging.ERROR and "giving up" in r.getMessage() for r in caplog.records)
    saved = json.loads(state.read_text())
    assert saved["last_slot"] == (T0 + timedelta(hours=1)).isoformat()
    assert "SMTP down" in saved["last_error"]


def test_background_thread_runs_due_slot_and_stops() -> None:
    """start() runs due slots in a background thread; stop() ends it."""
    clock, job = Clock(T0), Job()
    sched = ReportScheduler(job, every="1h", clock=clock)
    clock.advance(hours=1, seconds=1)
    sched.start()
    try:
        assert job.called.wait(timeout=30), "the scheduler thread did not run the due slot"
    finally:
        sched.stop()
    assert job.slots == [T0 + timedelta(hours=1)]
    assert not any(t.name == "otel-workflow-report-scheduler" for t in threading.enumerate())


def test_changed_schedule_starts_afresh(tmp_path: Path) -> None:
    """A state file written for another schedule is not applied to a new one."""
    state = tmp_path / "state.json"
    clock, job = Clock(T0), Job()
    ReportScheduler(job, every="1h", clock=clock, state_path=state).stop()
    clock.advance(hours=5)
    sched = ReportScheduler(job, every="1d", clock=clock, state_path=state)
    assert sched.run_pending() is False
    assert sched.next_run() == clock.now + timedelta(days=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "exactly one of every= or cron="),
        ({"every": "1h", "cron": "* * * * *"}, ValueError, "exactly one of every= or cron="),
        ({"every": "soon"}, ValueError, "malformed duration"),
        ({"every": "-1h"}, ValueError, "malformed duration"),
        ({"cron": "61 * * * *"}, ValueError, "invalid cron expression"),
        ({"cron": "0 8 * *"}, ValueError, "invalid cron expression"),
        ({"every": "1h", "max_attempts": 0}, ValueError, "max_attempts"),
        ({"every": "1h", "backoff": "fast"}, ValueError, "malformed duration"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict, error: type, message: str) -> None:
    """Bad schedule arguments raise a clear error naming the problem."""
    with pytest.raises(error, match=message):
        ReportScheduler(Job(), clock=Clock(T0), **kwargs)


def test_naive_now_is_rejected() -> None:
    """run_pending refuses a naive datetime (its time zone would be a guess)."""
    sched = ReportScheduler(Job(), every="1h", clock=Clock(T0))
    with pytest.raises(ValueError, match="timezone-aware"):
        sched.run_pending(datetime(2026, 1, 1))


def test_damaged_state_file_is_refused(tmp_path: Path) -> None:
    """A state file that is not valid JSON is refused rather than silently reset."""
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read schedule state"):
        ReportScheduler(Job(), every="1h", clock=Clock(T0), state_path=state)
