"""The charts show the data they have: short runs, lone points, readable ticks, page width."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from otel_workflow.analytics import AnalyticsEngine
from otel_workflow.reports import collect, render_report
from otel_workflow.reports.charts import (
    TOTAL_COLOUR,
    horizontal_bar_figure,
    series_colours,
    series_id,
    time_series_figure,
)
from tests.report import chromium as browser
from tests.report.spans import fill_short_run

_T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _near(colour: tuple[int, int, int], target: str, tolerance: int = 40) -> bool:
    rgb = (int(target[1:3], 16), int(target[3:5], 16), int(target[5:7], 16))
    return all(abs(a - b) <= tolerance for a, b in zip(colour, rgb, strict=True))


def _pixels_like(png: Path, target: str) -> int:
    from PIL import Image

    with Image.open(png) as image:
        return sum(n for n, c in image.convert("RGB").getcolors(1 << 24) or [] if _near(c, target))


def _labels_overlap(fig, axis, horizontal: bool) -> list[tuple[str, str]]:
    # Measured here, independently of the chart code: drawn label boxes that intersect.
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    boxes = sorted(
        ((b.x0, b.x1, t.get_text()) if horizontal else (b.y0, b.y1, t.get_text()))
        for t in axis.get_majorticklabels()
        if t.get_visible() and t.get_text()
        for b in [t.get_window_extent(renderer)]
    )
    return [(a[2], b[2]) for a, b in itertools.pairwise(boxes) if b[0] < a[1]]


def _tick_texts(fig, axis) -> list[str]:
    fig.draw_without_rendering()
    return [t.get_text() for t in axis.get_majorticklabels() if t.get_text()]


@pytest.fixture
def short_store(tmp_path: Path) -> Path:
    """A store holding one 3-second run, like `make demo`, with some failures."""
    path = tmp_path / "short.db"
    fill_short_run(path, seconds=3.0)
    return path


def test_short_run_gets_buckets_of_its_own_size(short_store: Path) -> None:
    """A 3-second run inside a 24-hour window is bucketed by the second, over those seconds."""
    with AnalyticsEngine.from_store(short_store) as engine:
        data = collect(engine, since="24h")
    assert data.failed > 0
    assert data.interval <= timedelta(seconds=1)
    assert data.trend_window is not None and data.trend_window.since is not None
    assert data.trend_window.until - data.trend_window.since <= timedelta(seconds=6)
    rates = [p.value for p in data.error_rate if p.value is not None]
    assert len(rates) >= 3, "the error-rate trend has a series, not one point"


@pytest.mark.integration
def test_short_run_error_rate_is_visible_in_chromium(
    short_store: Path, tmp_path: Path, chromium: str
) -> None:
    """After a 3-second run the error-rate chart, opened in Chromium, shows its series."""
    with AnalyticsEngine.from_store(short_store) as engine:
        render_report(engine, tmp_path / "short.md", since="24h", format="markdown")
    svg = tmp_path / "short_files" / "error-rate.svg"
    run = browser.screenshot(chromium, svg, tmp_path / "error-rate.png", width=1100, height=450)
    # A line plus markers in the total's colour: hundreds of pixels, not a dot or nothing.
    assert _pixels_like(run.screenshot, TOTAL_COLOUR) > 300


def test_lone_points_get_markers() -> None:
    """A value whose neighbours are missing is drawn with a marker, even in a long series."""
    values: list[float | None] = [None] * 60
    values[10], values[40], values[41] = 0.25, 0.5, 0.4
    series = {"all": [(_T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]}
    fig = time_series_figure(series, title="t", ylabel="error rate", percent=True)
    marked = {
        (round(float(x), 6), round(float(y), 6))
        for line in fig.axes[0].get_lines()
        if line.get_marker() not in (None, "None", "", " ")
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
    }
    lone_x = round(float(fig.axes[0].get_lines()[0].get_xdata()[10]), 6)
    assert (lone_x, 25.0) in marked


@pytest.mark.parametrize(
    "values",
    [
        {"p50": 2e-6, "p95": 1e-3, "p99": 5.0, "max": 3000.0},  # nine decades
        {"p50": 0.002, "p95": 0.9},
        {"p50": 0.2, "p95": 0.3},  # within one decade
    ],
)
def test_duration_ticks_are_readable(values: dict[str, float]) -> None:
    """Duration axes have several labelled ticks, in human units, none overlapping."""
    fig = horizontal_bar_figure([("workflow", values)], title="t", xlabel="duration", log=True)
    axis = fig.axes[0].xaxis
    texts = _tick_texts(fig, axis)
    assert len(texts) >= 2, texts
    assert all(t.split()[-1] in ("ns", "\u00b5s", "ms", "s", "min", "h") for t in texts), texts
    assert _labels_overlap(fig, axis, horizontal=True) == []


@pytest.mark.parametrize("span", [timedelta(seconds=3), timedelta(hours=5), timedelta(days=9)])
def test_time_axis_ticks_do_not_overlap(span: timedelta) -> None:
    """Time axes over seconds, hours or days keep their labels apart, and name the zone."""
    points = [(_T0 + span * i / 40, float(i % 7)) for i in range(41)]
    fig = time_series_figure(
        {"all": points, "other": points}, title="t", ylabel="executions per minute",
        xlim=(_T0, _T0 + span),
    )  # fmt: skip
    ax = fig.axes[0]
    assert len(_tick_texts(fig, ax.xaxis)) >= 2
    assert _labels_overlap(fig, ax.xaxis, horizontal=True) == []
    assert _labels_overlap(fig, ax.yaxis, horizontal=False) == []
    assert ax.get_xlabel().startswith("time (UTC")


@pytest.mark.parametrize(
    ("start", "span", "pattern", "label"),
    [
        (_T0 + timedelta(seconds=56), timedelta(seconds=4), r"^\d\d:\d\d:\d\d$",
         "time (UTC, 2030-01-01)"),
        (_T0, timedelta(hours=5), r"^\d\d:\d\d:\d\d$", "time (UTC, 2030-01-01)"),
        (_T0, timedelta(days=3), r"^\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?$", "time (UTC)"),
    ],
)  # fmt: skip
def test_time_ticks_are_whole_times(
    start: datetime, span: timedelta, pattern: str, label: str
) -> None:
    """Ticks read 10:00:56, not a bare 56; with the date when the range spans days."""
    points = [(start + span * i / 20, float(i)) for i in range(21)]
    fig = time_series_figure({"all": points}, title="t", ylabel="n", xlim=(start, start + span))
    ax = fig.axes[0]
    texts = _tick_texts(fig, ax.xaxis)
    assert len(texts) >= 2 and all(re.match(pattern, t) for t in texts), texts
    assert ax.get_xlabel() == label
    assert ax.xaxis.get_offset_text().get_text() == ""  # no "2030-Jan-01 00:00" aside


def test_a_single_series_has_a_legend() -> None:
    """A chart with one line names it in a legend, as do bars with one kind of bar."""
    points = [(_T0 + timedelta(minutes=i), 0.01 * i) for i in range(5)]
    fig = time_series_figure({"all": points}, title="t", ylabel="error rate", percent=True)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["all"]
    bars = horizontal_bar_figure([("timeout", {"failed steps": 3.0})], title="t", xlabel="n")
    legend = bars.axes[0].get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["failed steps"]


def test_identical_series_stay_visible() -> None:
    """A series equal to an earlier one is dashed with its own hollow marker, the first widened."""
    points = [(_T0 + timedelta(seconds=i), float(i % 3)) for i in range(6)]
    other = [(t, v + 1) for t, v in points]
    fig = time_series_figure({"a": points, "b": points, "c": other}, title="t", ylabel="n")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    first, twin, apart = lines["a"], lines["b (same as a)"], lines["c"]
    assert twin.get_linestyle() != "-" and first.get_linestyle() == apart.get_linestyle() == "-"
    assert twin.get_marker() != first.get_marker() and twin.get_markerfacecolor() == "none"
    assert first.get_linewidth() > twin.get_linewidth() == apart.get_linewidth()


def test_each_series_keeps_its_colour() -> None:
    """Colours come from the name: the same on any chart, whatever else is drawn."""
    both = series_colours(["all", "b", "a"])
    assert series_colours(["all", "b", "a"]) == both == {**series_colours(["a", "b"])}
    assert both["all"] == TOTAL_COLOUR and len(set(both.values())) == 3
    points = [(_T0 + timedelta(seconds=i), 1.0) for i in range(3)]
    alone = time_series_figure({"all": points}, title="t", ylabel="n", colours=both)
    crowd = time_series_figure({"all": points, "a": points, "b": points}, title="t", ylabel="n",
                               colours=both)  # fmt: skip
    for fig in (alone, crowd):
        for line in fig.axes[0].get_lines():
            name = line.get_label().split(" (same as")[0]
            assert line.get_color() == both[name], name
    gids = {line.get_gid() for line in alone.axes[0].get_lines()}
    assert gids == {series_id("timeseries", "all")}


def test_percent_axis_ticks_say_percent() -> None:
    """The error-rate axis writes its ticks as percentages, matching its label."""
    points = [(_T0 + timedelta(minutes=i), 0.01 * i) for i in range(10)]
    fig = time_series_figure({"all": points}, title="t", ylabel="error rate", percent=True)
    texts = _tick_texts(fig, fig.axes[0].yaxis)
    assert texts and all(t.endswith("%") for t in texts), texts


def _longest_dark_run(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        pixels = rgb.load()
        best = 0
        for y in range(height):
            run = 0
            for x in range(width):
                r, g, b = pixels[x, y]
                run = run + 1 if max(r, g, b) < 90 else 0
                best = max(best, run)
    return best


@pytest.mark.integration
def test_charts_use_the_page_width(short_store: Path, tmp_path: Path, chromium: str) -> None:
    """In a 1200 px window the charts' time axes span most of the page's content width."""
    with AnalyticsEngine.from_store(short_store) as engine:
        page = render_report(engine, tmp_path / "r.html", since="24h")
    run = browser.screenshot(chromium, page, tmp_path / "r.png", width=1200, height=1600)
    content = 1100 - 2 * 16  # the page's max-width minus its padding
    # The x axis line of a chart is the longest dark horizontal run on the page.
    assert _longest_dark_run(run.screenshot) > 0.75 * content
