"""Open a page in headless Chromium: screenshot it and collect its console messages."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Flags for a root user on a machine with no network and no display.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
)  # fmt: skip

# With --enable-logging=stderr every console message (console.log/error, uncaught
# exceptions) is logged as: [pid:tid:date:INFO:CONSOLE:line] "text", source: url (line)
_CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)")


@dataclass(frozen=True)
class PageRun:
    """What Chromium did with a page."""

    screenshot: Path
    console: list[str]
    stderr: str


def screenshot(
    chromium: str, page: Path, out: Path, *, width: int = 1200, height: int = 4000
) -> PageRun:
    """Render ``page`` (a local file) and save a PNG of it to ``out``."""
    profile = out.parent / f"{out.stem}-profile"
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}",
         f"--window-size={width},{height}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if not out.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot (exit {result.returncode}):\n"
                           f"{result.stderr[-3000:]}")  # fmt: skip
    console = [m.group(1) for m in map(_CONSOLE.search, result.stderr.splitlines()) if m]
    return PageRun(out, console, result.stderr)


def distinct_colours(png: Path) -> set[tuple[int, int, int]]:
    """The set of RGB colours in a PNG."""
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    return {colour for _, colour in colours}


# Appended to a copy of a page: what overflows the page, and which colour each chart's
# series is drawn in, printed as one console line for measure() to read.
_MEASURE_JS = """
<script>
(function () {
  var root = document.documentElement, out = {
    scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, overflowing: [],
    series: []
  };
  document.querySelectorAll("table, .scroll, figure, svg, p, h1, h2").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.right > root.clientWidth + 0.5 || el.scrollWidth > el.clientWidth + 1) {
      var before = el.previousElementSibling;
      out.overflowing.push(el.tagName + "." + el.className + "#" + (el.id || "") +
        (before && before.id ? " after #" + before.id : "") +
        " right=" + Math.round(box.right) + " scroll=" + el.scrollWidth +
        " client=" + el.clientWidth);
    }
  });
  // A cell whose text wraps is taller than one line of its row's font.
  out.wrapped = [];
  document.querySelectorAll("td, th").forEach(function (el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var tops = {};
    Array.prototype.forEach.call(range.getClientRects(), function (r) {
      if (r.width > 0) tops[Math.round(r.top)] = true;
    });
    if (Object.keys(tops).length > 1) out.wrapped.push(el.textContent);
  });
  document.querySelectorAll("figure g[id*='-series-']").forEach(function (g) {
    var path = g.querySelector("path");
    out.series.push({id: g.id, stroke: path ? getComputedStyle(path).stroke : null});
  });
  console.log("MEASURE " + JSON.stringify(out));
})();
</script>
"""


def measure(chromium: str, page: Path, out_dir: Path, *, width: int = 1280) -> dict[str, Any]:
    """Open a copy of ``page`` at ``width`` px and return what :data:`_MEASURE_JS` found:
    ``scrollWidth``/``clientWidth`` of the page, the elements wider than it (or scrolling),
    and each chart series' SVG id and stroke colour."""
    copy = out_dir / f"measure-{width}-{page.name}"
    copy.write_text(
        page.read_text(encoding="utf-8").replace("</body>", _MEASURE_JS + "</body>"),
        encoding="utf-8",
    )
    run = screenshot(chromium, copy, out_dir / f"measure-{width}.png", width=width, height=900)
    for line in run.console:
        start = line.find("MEASURE ")
        if start >= 0:
            text = line[start + len("MEASURE ") :]
            end = text.rfind("}")
            return dict(json.loads(text[: end + 1]))
    raise RuntimeError(f"the measuring script printed nothing: {run.console}\n{run.stderr[-2000:]}")
