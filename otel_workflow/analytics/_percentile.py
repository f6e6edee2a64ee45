"""Exact percentiles, the same as ``statistics.quantiles(data, n=100, method="inclusive")``.

For sorted values ``x[0..n-1]`` and a quantile ``q`` in [0, 1], the position is
``h = q * (n - 1)``; the result interpolates linearly between ``x[floor(h)]`` and
``x[floor(h) + 1]``.  This is the "inclusive" method of :func:`statistics.quantiles`
(R's type 7, NumPy's default "linear"): the minimum is p0 and the maximum p100.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def ranks(q: float, n: int) -> tuple[int, int, float]:
    """0-based lower and upper ranks and the interpolation weight for ``q`` over ``n`` values."""
    h = q * (n - 1)
    lower = math.floor(h)
    upper = min(lower + 1, n - 1)
    return lower, upper, h - lower


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of already sorted values; ``None`` for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.5
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q!r}")
    n = len(sorted_values)
    if n == 0:
        return None
    lower, upper, weight = ranks(q, n)
    low = sorted_values[lower]
    if weight == 0.0 or upper == lower:
        return float(low)
    high = sorted_values[upper]
    # statistics.quantiles computes (low * (n - delta) + high * delta) / n with integer
    # arithmetic on positions; this form gives the same value up to float rounding.
    return float(low + (high - low) * weight)
