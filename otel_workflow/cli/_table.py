"""Plain-text tables that fit the terminal without breaking a number, name or unit.

A cell is never wrapped.  When a table is wider than the terminal, the least important
columns are left out (and named under the table); only if it is still too wide are long
names shortened with an ellipsis.  The width is ``$COLUMNS`` when set (so piped output
honours it), else the terminal's; piped output with no ``$COLUMNS`` is not cut at all, so
a table written to a file keeps every column.

Cells are escaped first: a newline or other control character in a workflow name is shown
as ``\\n``/``\\x1b`` and never splits a row or moves the cursor.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Column", "escape", "output_width", "render"]

_GAP = "  "
_ELLIPSIS = "\u2026"
_MIN_NAME = 8  # a shortened name keeps at least this many characters
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


@dataclass(frozen=True)
class Column:
    """A table column.  ``priority`` 0 is always shown; higher numbers are dropped first."""

    header: str
    numeric: bool = False  # right-aligned, never shortened
    priority: int = 0


def escape(text: str) -> str:
    """``text`` with control characters (C0, C1, DEL, bidi and other format chars) visible."""
    if text.isprintable() and "\\" not in text:
        return text  # the common case, one C-level scan
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def output_width() -> int | None:
    """Columns to fit: ``$COLUMNS``, else the terminal's; None (no limit) when piped."""
    env = os.environ.get("COLUMNS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _shorten(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[: width - 1] + _ELLIPSIS


def render(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None
) -> list[str]:
    """The lines of a table: title, header, rule, rows; then a blank line and a note
    naming the columns left out, if any."""
    rows = [[escape(c) for c in row] for row in rows]
    shown = list(range(len(columns)))
    widths = [max(len(col.header), *(len(r[i]) for r in rows)) for i, col in enumerate(columns)]

    def total() -> int:
        return sum(widths[i] for i in shown) + len(_GAP) * (len(shown) - 1)

    hidden: list[int] = []
    if width is not None:
        # Least important first; among equals, the rightmost.
        droppable = sorted(
            (i for i, c in enumerate(columns) if c.priority > 0),
            key=lambda i: (-columns[i].priority, -i),
        )
        for i in droppable:
            if total() <= width:
                break
            shown.remove(i)
            hidden.append(i)
        names = [i for i in shown if not columns[i].numeric]
        while total() > width and names:
            widest = max(names, key=lambda i: widths[i])
            floor = max(len(columns[widest].header), _MIN_NAME)
            if widths[widest] <= floor:
                names.remove(widest)
                continue
            widths[widest] = max(floor, widths[widest] - (total() - width))

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i in shown:
            cell = _shorten(cells[i], widths[i])
            parts.append(cell.rjust(widths[i]) if columns[i].numeric else cell.ljust(widths[i]))
        return _GAP.join(parts).rstrip()

    lines = [escape(title), line([c.header for c in columns])]
    lines.append(_GAP.join("-" * widths[i] for i in shown))
    lines.extend(line(row) for row in rows)
    if hidden:
        lines.extend(["", *_left_out_note([columns[i].header for i in sorted(hidden)], width)])
    return lines


def _left_out_note(headers: Sequence[str], width: int | None) -> list[str]:
    """``(left out to fit W columns: a, b; all in --format csv)``, wrapped within ``width``.

    Lines break only between words: a header ("cpu avg") and the closing hint are never
    split, and ``--format`` is not broken at its hyphens.
    """
    glue = "\0"  # textwrap never breaks at it; turned back into a space afterwards
    left_out = ", ".join(h.replace(" ", glue) for h in headers)
    tail = glue.join(["all", "in", "--format", "csv)"])
    note = f"(left out to fit {width} columns: {left_out}; {tail}"
    wrapped = textwrap.wrap(
        note, width or len(note), break_long_words=False, break_on_hyphens=False
    )
    return [part.replace(glue, " ") for part in wrapped]
