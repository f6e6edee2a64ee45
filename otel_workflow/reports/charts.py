"""Charts for reports, drawn with matplotlib and returned as standalone SVG text.

Needs the ``report`` extra (matplotlib).  Figures are built with the object-oriented API
(``matplotlib.figure.Figure``), never ``pyplot``, so no GUI backend or global figure state
is involved and charts can be drawn from any thread.  Text is kept as text
(``svg.fonttype = none``): smaller files, selectable labels, rendered with the viewer's fonts.
Math text is switched off, so a workflow called ``$x$`` is drawn as those three characters.

What every chart guarantees: a value with no neighbour is drawn as a marker (a line needs
two points, so a lone bucket would otherwise be invisible); tick labels never overlap
(the densest tick spacing whose labels, measured after layout, leave a gap is used;
1-2-5 ticks first, so a range within one decade still gets several labels); the time axis
is labelled with its zone, its ticks are whole times (``10:26:42``, with the date when the
range spans days); axis labels name the unit their ticks are written in; every chart has
a legend, even with one series; a series equal to one drawn before it is drawn dashed with
its own marker, so neither hides the other; a series name keeps one colour on every chart
(:func:`series_colours`).
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

try:
    import matplotlib
    from matplotlib.axis import Axis
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, date2num, num2date
    from matplotlib.figure import Figure
    from matplotlib.ticker import (
        FuncFormatter,
        LogLocator,
        MaxNLocator,
        NullFormatter,
        PercentFormatter,
    )
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        "reports need the 'report' extra: pip install 'otel-workflow[report]'", name=exc.name
    ) from exc

from otel_workflow.reports.units import TIME_ZONE, TIME_ZONE_NAME, format_tick_duration

# Colour-blind safe (Okabe-Ito), in the order series get them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
TOTAL = "all"
"""The name of the series summing every workflow."""
TOTAL_COLOUR = PALETTE[0]
"""The colour of the :data:`TOTAL` series on every chart."""
# Bars that are not workflows (percentiles, error categories) are drawn in greys, light
# to dark, so no colour on the page means both a workflow and something else.
BAR_GREYS = ("#AEB8C4", "#7D8A9A", "#4E5B6C", "#232D3A")
# Later copies of an identical series: dashed over the (widened) first one, each with its
# own hollow marker around the first one's dot, so both stay visible.
_OVERLAP_STYLES = (((0, (3, 3)), "s"), ((0, (1, 2)), "D"), ((0, (5, 2, 1, 2)), "^"))
_WIDE_LINE = 3.4

_MAX_SERIES = 8  # more lines than this are unreadable; the rest are folded into the legend note
# About the report page's content width at 96 px per inch, so a chart fills the page
# at its natural size (the page scales it to fit narrower windows).
WIDTH_INCHES = 10.4
_HEIGHT = 3.4
_ALL_MARKERS_BELOW = 30  # with fewer points than this every point gets a marker
_TICK_GAP_PX = 12.0  # room left between neighbouring tick labels, for the viewer's wider fonts

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
        fig = Figure(figsize=(WIDTH_INCHES, height), layout="constrained")
    FigureCanvasAgg(fig)  # a canvas that can measure text, for the tick-label check
    return fig


def series_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per series name, the same on every chart of a report.

    :data:`TOTAL` gets :data:`TOTAL_COLOUR`; the other names, sorted, the rest of
    :data:`PALETTE` in order (repeating after seven).
    """
    others = sorted({n for n in names if n != TOTAL})
    rest = PALETTE[1:]
    colours = {name: rest[i % len(rest)] for i, name in enumerate(others)}
    colours[TOTAL] = TOTAL_COLOUR
    return colours


def series_id(salt: str, name: str) -> str:
    """The SVG ``id`` of series ``name`` on the chart drawn with ``salt`` (unique per page)."""
    return f"{salt}-series-{name.encode('utf-8').hex()}"


def _same(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> bool:
    return len(a) == len(b) and all(
        x1 == x2 and (y1 == y2 or (math.isnan(y1) and math.isnan(y2)) or math.isclose(y1, y2))
        for (x1, y1), (x2, y2) in zip(a, b, strict=True)
    )


def _time_axis(ax: Any) -> None:
    """Ticks as whole times in :data:`TIME_ZONE`; the date in the label, or in each tick
    when the range spans days."""
    low, high = (num2date(v, tz=TIME_ZONE) for v in ax.get_xlim())  # type: ignore[no-untyped-call]
    one_day = low.date() == high.date()
    pattern = "%H:%M:%S" if one_day else "%Y-%m-%d %H:%M"

    def label(value: float, _pos: int | None) -> str:
        moment = num2date(value, tz=TIME_ZONE)  # type: ignore[no-untyped-call]
        if not one_day and moment.second:
            return str(moment.strftime("%Y-%m-%d %H:%M:%S"))
        return str(moment.strftime(pattern))

    ax.xaxis.set_major_formatter(FuncFormatter(label))
    day = f", {low:%Y-%m-%d}" if one_day else ""
    ax.set_xlabel(f"time ({TIME_ZONE_NAME}{day})")


def _short(label: str, limit: int = 48) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


def lone_points(values: Sequence[float | None]) -> list[int]:
    """Indexes of values whose neighbours are both missing: a line cannot show them."""
    present = [v is not None and math.isfinite(v) for v in values]
    return [
        i for i, here in enumerate(present)
        if here and not (i > 0 and present[i - 1]) and not (i + 1 < len(present) and present[i + 1])
    ]  # fmt: skip


def tick_label_boxes(
    fig: Figure, axis: Axis, *, horizontal: bool = True
) -> list[tuple[float, float, str]]:
    """The drawn major tick labels of ``axis``: (low, high, text) in pixels, in order.

    ``horizontal`` says whether the labels sit side by side (an x axis) or stacked (y).
    """
    fig.draw_without_rendering()
    return _boxes(fig, axis, horizontal=horizontal)


def _boxes(fig: Figure, axis: Axis, *, horizontal: bool) -> list[tuple[float, float, str]]:
    # Label extents as of the last layout.
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = []
    for label in axis.get_majorticklabels():
        if label.get_visible() and label.get_text():
            box = label.get_window_extent(renderer)
            boxes.append((box.x0, box.x1, label.get_text()) if horizontal
                         else (box.y0, box.y1, label.get_text()))  # fmt: skip
    return sorted(boxes)


def _fits(boxes: list[tuple[float, float, str]]) -> bool:
    return len(boxes) >= 2 and all(
        b[0] >= a[1] + _TICK_GAP_PX for a, b in itertools.pairwise(boxes)
    )


_Candidates = Sequence[Callable[[], Any]]


def _fit_ticks(fig: Figure, *axes: tuple[Axis, _Candidates]) -> None:
    """For each axis use the first (densest) locator whose labels leave a gap, else the
    sparsest that still labels two ticks.

    A locator labelling fewer than two ticks is passed over: matplotlib's log locator, for
    one, labels nothing when it must skip decades with several ticks per decade.  All axes
    are measured from one layout per round, since a layout is most of a chart's cost.
    """
    pending = [(axis, list(candidates)) for axis, candidates in axes]
    readable: dict[int, Callable[[], Any]] = {}
    while pending:
        for axis, candidates in pending:
            axis.set_major_locator(candidates[0]())
        fig.draw_without_rendering()
        still = []
        for axis, candidates in pending:
            boxes = _boxes(fig, axis, horizontal=axis is not axis.axes.yaxis)
            if _fits(boxes):
                continue
            if len(boxes) >= 2:
                readable[id(axis)] = candidates[0]
            if len(candidates) > 1:
                still.append((axis, candidates[1:]))
            elif id(axis) in readable:
                axis.set_major_locator(readable[id(axis)]())
        pending = still


def time_series_figure(
    series: Series,
    *,
    title: str,
    ylabel: str,
    percent: bool = False,
    xlim: tuple[datetime, datetime] | None = None,
    colours: Mapping[str, str] | None = None,
    salt: str = "timeseries",
) -> Figure:
    """A line chart of one or more time series; ``xlim`` fixes the time axis.

    ``colours`` maps series names to colours (default :func:`series_colours` of the names);
    each line's SVG id is :func:`series_id` of ``salt`` and its name.
    """
    with matplotlib.rc_context(_RC):
        fig = _figure()
        ax = fig.add_subplot()
        names = sorted(series, key=lambda name: (name != TOTAL, name))
        palette = {**series_colours(names), **(colours or {})}
        ys_all: list[float] = []
        drawn_series: list[tuple[str, list[tuple[float, float]], Any]] = []
        for name in names[:_MAX_SERIES]:
            points = sorted(series[name], key=lambda point: point[0])
            xs = date2num([point[0] for point in points])  # type: ignore[no-untyped-call]
            values = [None if v is None else (v * 100.0 if percent else v) for _, v in points]
            ys = [float("nan") if v is None else v for v in values]
            ys_all.extend(ys)
            colour = palette[name]
            drawn = sum(1 for v in values if v is not None)
            here = [(float(x), y) for x, y in zip(xs, ys, strict=True)]
            twins = [(other, line) for other, points_, line in drawn_series
                     if _same(points_, here)]  # fmt: skip
            style: dict[str, Any] = {"linestyle": "-", "marker": "o", "markersize": 3.5}
            label = _short(name)
            if twins:
                # Drawn on top of an identical line it would hide it (and be hidden): the
                # first one widened, this one dashed over it with a hollow marker around the
                # first one's dots, and the legend says which line it matches.
                twins[0][1].set_linewidth(_WIDE_LINE)
                dashes, marker = _OVERLAP_STYLES[(len(twins) - 1) % len(_OVERLAP_STYLES)]
                style = {"linestyle": dashes, "marker": marker, "markersize": 7.0 + 2 * len(
                    twins), "markerfacecolor": "none", "markeredgewidth": 1.4}  # fmt: skip
                label = f"{_short(name)} (same as {_short(twins[0][0], 24)})"
            elif drawn >= _ALL_MARKERS_BELOW:
                style["marker"] = None
            (line,) = ax.plot(
                xs, ys, linewidth=1.6, color=colour, label=label, gid=series_id(salt, name),
                **style,
            )  # fmt: skip
            drawn_series.append((name, here, line))
            lone = lone_points(values)
            if lone and drawn >= _ALL_MARKERS_BELOW:
                ax.plot([xs[i] for i in lone], [ys[i] for i in lone], linestyle="none",
                        marker="o", markersize=3.5, color=colour)  # fmt: skip
        if xlim is not None:
            # Same time axis on every trend chart, whatever range each series happens to cover.
            ax.set_xlim(date2num(xlim[0]), date2num(xlim[1]))  # type: ignore[no-untyped-call]
        ax.set_title(title, loc="left", fontweight="bold")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=None, symbol=" %"))
            # Room above 100 % so a line at the top is not cut by the frame.
            top = max((y for y in ys_all if math.isfinite(y)), default=0.0)
            ax.set_ylim(0, max(top * 1.08, 1.0))
        _time_axis(ax)
        if names:
            hidden = len(names) - _MAX_SERIES
            # Below the axes (constrained layout makes room), so it never hides a line; also
            # with one series, which a reader cannot otherwise name.
            fig.legend(
                loc="outside lower left", fontsize=8, frameon=False, ncols=min(4, len(names)),
                title=f"(+{hidden} more not drawn)" if hidden > 0 else None,
            )  # fmt: skip

        def dates(most: int) -> Callable[[], Any]:
            return lambda: AutoDateLocator(tz=TIME_ZONE, minticks=2, maxticks=most)  # type: ignore[no-untyped-call]

        _fit_ticks(
            fig,
            (ax.xaxis, [dates(n) for n in (9, 8, 6, 4, 3, 2)]),
            (ax.yaxis, [functools.partial(MaxNLocator, n) for n in (8, 6, 4, 2)]),
        )
        return fig


def time_series_chart(series: Series, *, salt: str = "timeseries", **options: Any) -> str:
    """:func:`time_series_figure` as SVG text."""
    return _svg(time_series_figure(series, salt=salt, **options), salt)


def horizontal_bar_figure(
    values: Sequence[tuple[str, Mapping[str, float | None]]],
    *,
    title: str,
    xlabel: str,
    log: bool = False,
) -> Figure:
    """Grouped horizontal bars: one row per label, one bar per key of its mapping.

    With ``log=True`` the values are durations in seconds, and ticks are written in human
    units (``250 ms``, ``1.5 s``).  Keys (percentiles, a count) get :data:`BAR_GREYS`, light
    to dark, never a workflow's colour; the legend names them, even when there is one.
    """
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
            grey = BAR_GREYS[k % len(BAR_GREYS)] if len(keys) > 1 else BAR_GREYS[1]
            ax.barh(ys, xs, height=bar, color=grey, label=key)
        ax.set_yticks(range(rows), [_short(label) for label, _ in values])
        ax.invert_yaxis()  # first row at the top, as in the table beside it
        ax.grid(axis="y", visible=False)
        if log:
            ax.set_xscale("log")
            # Plain labels: the default log labels are math text, which is switched off.
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_tick_duration(v)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            _fit_ticks(fig, (ax.xaxis, [
                lambda: LogLocator(base=10, subs=(1.0, 2.0, 5.0)),
                lambda: LogLocator(base=10, subs=(1.0, 3.0)), lambda: LogLocator(base=10),
                lambda: LogLocator(base=10, numticks=5), lambda: LogLocator(base=10, numticks=3),
            ]))  # fmt: skip
        else:
            _fit_ticks(
                fig,
                (ax.xaxis, [functools.partial(MaxNLocator, n, integer=True) for n in (8, 6, 4, 2)]),
            )
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left", fontweight="bold")
        if keys:  # outside the axes, so it never hides a bar
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        return fig


def horizontal_bar_chart(
    values: Sequence[tuple[str, Mapping[str, float | None]]], *, salt: str = "bars", **options: Any
) -> str:
    """:func:`horizontal_bar_figure` as SVG text."""
    return _svg(horizontal_bar_figure(values, **options), salt)


def _bar_value(value: float | None, log: bool) -> float:
    if value is None or value <= 0:
        return float("nan") if log else 0.0
    return float(value)


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A file-name-safe form of a chart title."""
    return _SLUG.sub("-", text.lower()).strip("-") or "chart"
