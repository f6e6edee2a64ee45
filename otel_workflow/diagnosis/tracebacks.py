"""Errors as data: from a live exception, or parsed from a Python traceback string.

Spans from any instrumentation carry the ``exception`` event with
``exception.stacktrace`` in Python's traceback format; the store keeps that text.  Parsing
it gives the same :class:`~otel_workflow.diagnosis.model.ErrorInfo` a live exception
gives, so fingerprints agree whichever way an error arrives.  Frames' module names are
derived from their file paths in both cases (relative to ``sys.path``), because a stack
trace string has no module names.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

from otel_workflow.capture import CaptureLimits, capture
from otel_workflow.diagnosis.categories import MAX_CHAIN, causes
from otel_workflow.diagnosis.model import ErrorInfo, ExceptionEntry, Frame
from otel_workflow.frames import is_in_app, is_our_frame

MAX_FRAMES = 50
MAX_STACKTRACE = 64 * 1024

_OUR_DIRS = tuple(
    str(Path(p).resolve()) + os.sep
    for p in (Path(__file__).resolve().parents[1],)
)
_WRAPT = f"{os.sep}wrapt{os.sep}"

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"
_HEADERS = ("Traceback (most recent call last):",
            "Exception Group Traceback (most recent call last):")  # fmt: skip
_CARET = re.compile(r"^\s*[~^]+\s*$")
# A type as traceback prints it: ``module.Qual.Name`` (``<locals>`` inside functions).
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.<>]*)(?:: ?(?P<msg>.*))?$")
# The rule before a top-level group's first member: the text holds an exception group.
_GROUP_START = re.compile(r"^  \+-\+-+ 1 -+$")
# "  | " or "  + " before a line of a group; "+-+---- 1 ----" / "+----" rules between members.
_GUTTER = re.compile(r"^(?P<indent> *)(?P<mark>[|+])(?P<after>-| |$)")


def is_our_file(filename: str) -> bool:
    """otel-workflow's and wrapt's own files (wrapper frames, never the user's)."""
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        resolved = filename
    return resolved.startswith(_OUR_DIRS) or _WRAPT in resolved


def _sys_path_roots() -> list[str]:
    roots = []
    for entry in sys.path:
        try:
            roots.append(str(Path(entry or os.getcwd()).resolve()) + os.sep)
        except (OSError, ValueError):
            continue
    return sorted(set(roots), key=len, reverse=True)


def module_from_path(filename: str) -> str:
    """A dotted module name for a source file (relative to the longest ``sys.path`` entry
    holding it), else the file's stem; ``<stdin>``-like names are kept as they are."""
    if filename.startswith("<"):
        return filename
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        resolved = filename
    for root in _sys_path_roots():
        if resolved.startswith(root):
            rel = resolved[len(root):]
            stem = rel[:-3] if rel.endswith(".py") else rel
            parts = [p for p in stem.split(os.sep) if p]
            if parts and parts[-1] == "__init__":
                parts.pop()
            if parts:
                return ".".join(parts)
    return Path(filename).stem


def _frame(filename: str, lineno: int, function: str, source: str, locals_: dict[str, Any] | None = None) -> Frame:  # noqa: E501
    return Frame(filename=filename, lineno=lineno, function=function,
                 module=module_from_path(filename), source_line=source.strip()[:512],
                 in_app=is_in_app(filename), locals=locals_ or {})  # fmt: skip


def _chain(exc: BaseException) -> list[BaseException]:
    return [exc, *causes(exc)][:MAX_CHAIN]


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:4096]
    except Exception:  # an exception whose __str__ raises
        return f"<{type(exc).__name__}: message unavailable>"


def _below_our_innermost(tb: types.TracebackType | None) -> list[types.TracebackType]:
    """Traceback entries below the innermost otel-workflow frame, ours removed.

    That is the instrumented call's own code, which is what the step's span recorded:
    where the exception was finally caught (further out) does not change its group.
    """
    entries: list[types.TracebackType] = []
    while tb is not None:
        if is_our_frame(tb.tb_frame):
            entries = []
        else:
            entries.append(tb)
        tb = tb.tb_next
    return entries


def _live_frames(exc: BaseException, with_locals: bool) -> tuple[Frame, ...]:
    frames = []
    for tb in _below_our_innermost(exc.__traceback__)[-MAX_FRAMES:]:
        frame = tb.tb_frame
        filename = frame.f_code.co_filename
        source = linecache.getline(filename, tb.tb_lineno, frame.f_globals)
        local_data: dict[str, Any] = {}
        if with_locals:
            captured = capture(dict(frame.f_locals), CaptureLimits()).data
            local_data = captured if isinstance(captured, dict) else {}
        frames.append(_frame(filename, tb.tb_lineno, frame.f_code.co_name, source, local_data))
    return tuple(frames)


def from_exception(exc: BaseException, *, with_locals: bool = True) -> ErrorInfo:
    """The live exception and its ``__cause__``/``__context__`` chain as data."""
    from otel_workflow.diagnosis.categories import error_type_name

    entries = []
    for i, item in enumerate(_chain(exc)):
        frames = _live_frames(item, with_locals and i == 0)
        entries.append(ExceptionEntry(error_type_name(item), _safe_str(item), frames))
    return ErrorInfo(tuple(entries))


def _is_marker(line: str) -> bool:
    """A caret/tilde line Python 3.11+ prints under a source line (never source itself)."""
    return bool(_CARET.match(line))


def _parse_block(lines: list[str]) -> ExceptionEntry | None:
    """One exception of a chain: its frames, then its ``Type: message`` text.

    A frame is its ``File`` line plus the lines indented under it: the first of those
    that is not a caret/tilde marker is the source line; markers, further source lines
    (3.13 prints whole multi-line expressions) and ``[Previous line repeated]`` are
    dropped.  The first line at the left margin ends the frames: from there on every line
    belongs to the message, exactly as ``str(exc)`` continues over several lines.
    """
    frames: list[Frame] = []
    current: tuple[str, int, str] | None = None  # the open frame: file, line, function
    source: str | None = None
    syntax_at: tuple[str, str] | None = None  # a SyntaxError's ``File`` line (no function)
    exc_lines: list[str] | None = None
    for line in lines:
        if exc_lines is not None:
            exc_lines.append(line)
            continue
        stripped = line.strip()
        match = _FRAME.match(line)
        if match:
            if current is not None:
                frames.append(_frame(*current, source or ""))
            current, source = None, None
            if match.group("func") is None:  # where a SyntaxError points, not a frame
                syntax_at = (match.group("file"), match.group("line"))
            else:
                current = (match.group("file"), int(match.group("line")),
                           match.group("func").strip())  # fmt: skip
            continue
        if not stripped or stripped in _HEADERS or stripped.startswith("[Previous line repeated"):
            continue
        if line.startswith("    "):  # under a File line: source, markers, more source
            if current is not None and source is None and not _is_marker(line):
                source = line
            continue
        exc_lines = [line]
    if current is not None:
        frames.append(_frame(*current, source or ""))
    text = "\n".join(exc_lines or ()).rstrip("\n")
    if not text.strip() and not frames:
        return None
    first, newline, rest = text.partition("\n")
    match = _EXC_LINE.match(first)
    if match:
        type_name = match.group("type")
        message = (match.group("msg") or "") + newline + rest
    else:
        type_name, message = "Exception", text.strip()
    if syntax_at is not None and message:  # str(SyntaxError) names where it points
        message = f"{message} ({syntax_at[0]}, line {syntax_at[1]})"
    # As for live exceptions: only what lies below the innermost otel-workflow frame.
    cut = max((i for i, f in enumerate(frames) if is_our_file(f.filename)), default=-1)
    kept = tuple(frames[cut + 1:])[-MAX_FRAMES:]
    return ExceptionEntry(type_name, message, kept)


def _top_level_lines(text: str) -> list[str]:
    """The lines of the raised exception's chain, exception groups' gutters removed.

    A group prints its own traceback behind a ``  | `` gutter (column 2) and each member
    exception further right (column 4 and deeper).  Members are not part of the
    ``__cause__``/``__context__`` chain a live exception gives, so they are dropped here
    too: both ways of diagnosing one failure then see the same exceptions.
    """
    lines = text.splitlines()
    if not any(_GROUP_START.match(ln) for ln in lines):
        return lines
    kept: list[str] = []
    for line in lines:
        gutter = _GUTTER.match(line)
        if gutter is None:
            kept.append(line)
        elif len(gutter.group("indent")) == 2 and gutter.group("after") != "-":
            kept.append(line[gutter.end():])
        # deeper gutters are the members; "+-+----- 1 -----" rules separate them
    return kept


def parse_stacktrace(text: str, type_name: str = "", message: str = "") -> ErrorInfo:
    """An :class:`ErrorInfo` from a Python traceback string (``exception.stacktrace``).

    ``type_name``/``message`` (``exception.type``/``exception.message``) name the raised
    exception when the text lacks its last line.  Unparseable text gives a frameless entry.
    """
    text = (text or "")[:MAX_STACKTRACE]
    lines = _top_level_lines(text)
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip() in (_CAUSE, _CONTEXT):
            blocks.append([])
        else:
            blocks[-1].append(line)
    entries = [e for e in (_parse_block(b) for b in blocks) if e is not None]
    entries.reverse()  # the raised exception is printed last
    if not entries:
        entries = [ExceptionEntry(type_name or "Exception", message)]
    elif type_name:
        top = entries[0]
        if top.short_type != type_name.rsplit(".", 1)[-1] or not top.message:
            entries[0] = ExceptionEntry(type_name, message or top.message, top.frames)
        else:
            entries[0] = ExceptionEntry(type_name, top.message or message, top.frames)
    return ErrorInfo(tuple(entries[:MAX_CHAIN]), text)
