"""One deadline-bounded wait, for the Prometheus launcher and the tests alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.05,
    error: Callable[[], BaseException] | None = None,
) -> T:
    """Call ``check`` until it returns something truthy and return that; never past ``timeout``.

    At the deadline raises ``error()`` (default: ``TimeoutError``).  Exceptions from
    ``check`` propagate at once, so a check can fail fast (a process that exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise error() if error is not None else TimeoutError(
                f"condition not met within {timeout}s"
            )
        time.sleep(interval)  # poll interval of a deadline-bounded wait
