"""Frequency and trend of an error group: counts per interval and ``escalating``.

The window (default 24 h) is cut into intervals (default 1 h).  The forecast for the
latest interval is the mean count of the preceding intervals of the window.  The group
is **escalating** when the latest interval's count is at least 3, at least twice the
forecast, and above the forecast by more than three standard deviations of a Poisson
count with that mean (``count > forecast + 3 * sqrt(max(forecast, 1))``): a rare error
that happens twice is not escalating, a steady one that triples is.  A group first seen
within the latest interval has no history to escalate from: it is *new*, not escalating
(else every group of a fresh store would shout).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from otel_workflow.diagnosis.model import Frequency

METHOD = (
    "latest interval count >= 3, >= 2x the forecast and > forecast + 3*sqrt(max(forecast, 1));"
    " forecast = mean of the preceding intervals in the window; a group first seen in the"
    " latest interval is new, not escalating"
)


def frequency(times_ns: Sequence[int], *, total: int, first_seen_ns: int | None,
              last_seen_ns: int | None, now_ns: int, window_ns: int,
              interval_ns: int) -> Frequency:  # fmt: skip
    """Bucket ``times_ns`` (occurrences in the window) and judge the trend (pure)."""
    n = max(1, math.ceil(window_ns / interval_ns))
    start = now_ns - n * interval_ns
    buckets = [0] * n
    for ts in times_ns:
        index = (ts - start) // interval_ns
        if 0 <= index < n:
            buckets[int(index)] += 1
        elif index == n:  # exactly now
            buckets[-1] += 1
    latest = buckets[-1]
    preceding = buckets[:-1]
    forecast = sum(preceding) / len(preceding) if preceding else 0.0
    escalating = (latest >= 3 and latest >= 2 * forecast
                  and latest > forecast + 3 * math.sqrt(max(forecast, 1.0)))  # fmt: skip
    if not any(buckets):
        trend = "none"
    elif first_seen_ns is not None and first_seen_ns >= now_ns - interval_ns:
        trend = "new"
        escalating = False
    elif latest > 1.5 * forecast + 1:
        trend = "rising"
    elif latest < 0.5 * forecast:
        trend = "falling"
    else:
        trend = "steady"
    return Frequency(total, first_seen_ns, last_seen_ns, interval_ns / 1e9, buckets,
                     round(forecast, 3), trend, escalating, METHOD)  # fmt: skip
