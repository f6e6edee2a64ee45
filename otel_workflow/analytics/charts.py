"""Charts for reports, drawn with matplotlib and returned as standalone SVG text.

Needs the ``report`` extra (matplotlib).  Figures are built with the object-oriented API
(``matplotlib.figure.Figure``), never ``pyplot``, so no GUI backend or global figure state
is involved and charts can be drawn from any thread.  Text is kept as text
(``svg.fonttype = none``): smaller files, selectable labels, rendered with the viewer's fonts.
Math text is switched off, so a workflow called ``$x$`` is drawn as those three characters.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

try:
    import matplotlib
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        "reports need the 'report' extra: pip install 'otel-workflow[report]'", name=exc.name
    ) from exc

# Colour-blind safe (Okabe-Ito), in the order series get them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_MAX_SERIES = 8  # more lines than this are unreadable; the rest are folded into the legend note
_WIDTH, _HEIGHT = 8.0, 3.2

_RC: Any = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}

Series = Mapping[str, Sequence[tuple[datetime, float | None]]]
"""Named time series: label -> [(time, value or None for a gap)]."""


def _svg(fig: Figure, salt: str) -> str:
    buffer = io.StringIO()
    # A per-chart salt keeps element ids (clip paths) unique when charts share one page.
    with matplotlib.rc_context({**_RC, "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    # Drop the XML prolog and DOCTYPE: the SVG is embedded in HTML or written to its own file.
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _figure(height: float = _HEIGHT) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(_WIDTH, height), layout="constrained")


def _short(label: str, limit: int = 48) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


def time_series_chart(
    series: Series,
    *,
    title: str,
    ylabel: str,
    percent: bool = False,
    xlim: tuple[datetime, datetime] | None = None,
    salt: str = "timeseries",
) -> str:
    """A line chart of one or more time series, as SVG text; ``xlim`` fixes the time axis."""
    with matplotlib.rc_context(_RC):
        fig = _figure()
        ax = fig.add_subplot()
        names = sorted(series, key=lambda name: (name != "all", name))
        for index, name in enumerate(names[:_MAX_SERIES]):
            points = sorted(series[name], key=lambda point: point[0])
            xs = [point[0] for point in points]
            ys = [
                float("nan") if value is None else (value * 100.0 if percent else value)
                for _, value in points
            ]
            ax.plot(
                date2num(xs),  # type: ignore[no-untyped-call]
                ys,
                marker="o" if len(xs) < 30 else None,
                markersize=3,
                linewidth=1.6,
                color=PALETTE[index % len(PALETTE)],
                label=_short(name),
            )
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        ax.xaxis_date(tz="UTC")
        if xlim is not None:
            # Same time axis on every trend chart, whatever range each series happens to cover.
            ax.set_xlim(date2num(xlim[0]), date2num(xlim[1]))  # type: ignore[no-untyped-call]
        ax.set_title(title, loc="left", fontweight="bold")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        if len(names) > 1:
            hidden = len(names) - _MAX_SERIES
            ax.legend(
                loc="upper left", fontsize=8, frameon=False, ncols=2,
                title=f"(+{hidden} more not drawn)" if hidden > 0 else None,
            )  # fmt: skip
        return _svg(fig, salt)


def horizontal_bar_chart(
    values: Sequence[tuple[str, Mapping[str, float | None]]],
    *,
    title: str,
    xlabel: str,
    log: bool = False,
    salt: str = "bars",
) -> str:
    """Grouped horizontal bars: one row per label, one bar per key of its mapping."""
    keys: list[str] = []
    for _, group in values:
        keys.extend(key for key in group if key not in keys)
    rows = len(values)
    height = max(1.8, 0.9 + rows * (0.22 + 0.12 * len(keys)))
    with matplotlib.rc_context(_RC):
        fig = _figure(height)
        ax = fig.add_subplot()
        bar = 0.8 / max(1, len(keys))
        for k, key in enumerate(keys):
            ys = [row + (k - (len(keys) - 1) / 2) * bar for row in range(rows)]
            # A log axis has no zero: a missing or zero value draws no bar rather than failing.
            xs = [_bar_value(group.get(key), log) for _, group in values]
            ax.barh(ys, xs, height=bar, color=PALETTE[k % len(PALETTE)], label=key)
        ax.set_yticks(range(rows), [_short(label) for label, _ in values])
        ax.invert_yaxis()  # first row at the top, as in the table beside it
        ax.grid(axis="y", visible=False)
        if log:
            ax.set_xscale("log")
            # 1-2-5 ticks: a range within one decade still gets several labels.
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            # Plain labels: the default log labels are math text, which is switched off.
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_seconds(v)))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left", fontweight="bold")
        if len(keys) > 1:  # outside the axes, so it never hides a bar
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        return _svg(fig, salt)


def format_seconds(value: float) -> str:
    """A duration for people: ``250 ms``, ``1.5 s``, ``2 min``."""
    if value != value:  # NaN
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.3g} \u00b5s"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    if value < 120:
        return f"{value:.3g} s"
    return f"{value / 60:.3g} min"


def _bar_value(value: float | None, log: bool) -> float:
    if value is None or value <= 0:
        return float("nan") if log else 0.0
    return float(value)


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A file-name-safe form of a chart title."""
    return _SLUG.sub("-", text.lower()).strip("-") or "chart"
