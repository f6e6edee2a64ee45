"""Open a page in headless Chromium: screenshot it and collect its console messages."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

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
