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
from otel_workflow.diagnosis.model import ErrorInfo, ExceptionEntry, Frame
from otel_workflow.frames import is_in_app, is_our_frame

MAX_CHAIN = 8
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
_HEADER = "Traceback (most recent call last):"
_CARET = re.compile(r"^\s*[~^]+\s*$")
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")


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
    chain = [exc]
    seen = {id(exc)}
    current = exc
    while len(chain) < MAX_CHAIN:
        nxt = current.__cause__
        if nxt is None and not current.__suppress_context__:
            nxt = current.__context__
        if nxt is None or id(nxt) in seen:
            break
        seen.add(id(nxt))
        chain.append(nxt)
        current = nxt
    return chain


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


def _parse_block(lines: list[str]) -> ExceptionEntry | None:
    frames: list[Frame] = []
    i = 0
    pending: tuple[str, int, str] | None = None
    exc_lines: list[str] = []
    while i < len(lines):
        line = lines[i]
        match = _FRAME.match(line)
        if match:
            if pending is not None:
                frames.append(_frame(*pending, ""))
            pending = (match.group("file"), int(match.group("line")),
                       (match.group("func") or "<module>").strip())  # fmt: skip
            i += 1
            continue
        if pending is not None and line.startswith("    ") and not _CARET.match(line):
            frames.append(_frame(*pending, line))
            pending = None
            i += 1
            continue
        stripped = line.strip()
        if pending is not None and (not stripped or _CARET.match(line)):
            i += 1
            continue
        if pending is not None:
            frames.append(_frame(*pending, ""))
            pending = None
        if stripped.startswith("[Previous line repeated") or stripped == _HEADER:
            i += 1
            continue
        if stripped or exc_lines:
            exc_lines.append(line)
        i += 1
    if pending is not None:
        frames.append(_frame(*pending, ""))
    text = "\n".join(exc_lines).strip()
    if not text and not frames:
        return None
    first, _, rest = text.partition("\n")
    match = _EXC_LINE.match(first.strip())
    if match:
        type_name = match.group("type")
        message = (match.group("msg") or "") + (("\n" + rest) if rest else "")
    else:
        type_name, message = "Exception", text
    # As for live exceptions: only what lies below the innermost otel-workflow frame.
    cut = max((i for i, f in enumerate(frames) if is_our_file(f.filename)), default=-1)
    kept = tuple(frames[cut + 1:])[-MAX_FRAMES:]
    return ExceptionEntry(type_name, message.strip(), kept)


def parse_stacktrace(text: str, type_name: str = "", message: str = "") -> ErrorInfo:
    """An :class:`ErrorInfo` from a Python traceback string (``exception.stacktrace``).

    ``type_name``/``message`` (``exception.type``/``exception.message``) name the raised
    exception when the text lacks its last line.  Unparseable text gives a frameless entry.
    """
    text = (text or "")[:MAX_STACKTRACE]
    # Exception groups indent their members with "| "; strip the gutter.
    lines = [re.sub(r"^\s*[|+](?:-+[^|]*-+)?\s?", "", ln) if ln.lstrip().startswith(("|", "+-"))
             else ln for ln in text.splitlines()]  # fmt: skip
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
