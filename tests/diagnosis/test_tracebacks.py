"""Stored stack traces parse to the live exception: messages, frames, chains, fingerprints.

Every traceback here is produced by this interpreter from code in a real file, so on
Python 3.11+ it carries the caret/tilde marker lines under the source lines.
"""

from __future__ import annotations

import importlib.util
import textwrap
import traceback
import types
from collections.abc import Callable

import pytest

from otel_workflow.diagnosis.fingerprint import fingerprint, template
from otel_workflow.diagnosis.model import ErrorInfo
from otel_workflow.diagnosis.tracebacks import from_exception, parse_stacktrace

SOURCE = '''
class Holder:
    b = None


def subscript():
    d = {"k": {}}
    return d["k"]["j"]


def attribute_chain():
    a = Holder()
    a.b = Holder()
    return a.b.b.c()


def divide_in_expression(n=0):
    return 1 + (5 / n) * 2


def chained():
    try:
        subscript()
    except KeyError as exc:
        raise RuntimeError("price lookup failed") from exc


def during_handling():
    try:
        divide_in_expression()
    except ZeroDivisionError:
        return {"a": 1}["missing"] + 1


def empty_timeout():
    raise TimeoutError()


def multi_line():
    raise ValueError("first line\\n    indented second line\\nthird: x")


def grouped():
    errors = []
    for call in (subscript, divide_in_expression):
        try:
            call()
        except Exception as exc:
            errors.append(exc)
    raise ExceptionGroup("several", errors)


def group_as_cause():
    try:
        grouped()
    except ExceptionGroup as group:
        raise LookupError("batch failed") from group
'''

CASES = ["subscript", "attribute_chain", "divide_in_expression", "chained",
         "during_handling", "empty_timeout", "multi_line", "grouped", "group_as_cause"]  # fmt: skip


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    path = tmp_path_factory.mktemp("caret_app") / "caret_shop.py"
    path.write_text(textwrap.dedent(SOURCE))
    spec = importlib.util.spec_from_file_location("caret_shop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raise(call: Callable[[], object]) -> BaseException:
    try:
        result = call()  # part of a line: this frame gets its own ^^^^ markers
    except BaseException as exc:  # ExceptionGroup included
        return exc
    raise AssertionError(f"no exception: {result!r}")


def _chain(exc: BaseException) -> list[BaseException]:
    """The __cause__/__context__ chain as traceback prints it (raised first)."""
    chain = [exc]
    while True:
        nxt = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if nxt is None:
            return chain
        chain.append(nxt)
        exc = nxt


def _real_frames(exc: BaseException) -> list[tuple[str, int, str, str]]:
    return [(f.filename, f.lineno or 0, f.name, (f.line or "").strip())
            for f in traceback.extract_tb(exc.__traceback__)]  # fmt: skip


def _parsed(exc: BaseException, with_hints: bool) -> ErrorInfo:
    text = "".join(traceback.format_exception(exc))
    if with_hints:  # as a span event gives it: exception.type and exception.message too
        return parse_stacktrace(text, type(exc).__name__, str(exc))
    return parse_stacktrace(text)


@pytest.mark.parametrize("with_hints", [True, False], ids=["with-type-and-message", "text-only"])
@pytest.mark.parametrize("case", CASES)
def test_parsed_chain_has_the_real_messages_and_frames(
    shop: types.ModuleType, case: str, with_hints: bool
) -> None:
    """Each exception of the chain parses to its type, str(exc) and its real frames."""
    exc = _raise(getattr(shop, case))
    text = "".join(traceback.format_exception(exc))
    assert "^^^" in text  # the markers are there to be skipped
    info = _parsed(exc, with_hints)
    real = _chain(exc)
    assert [e.short_type for e in info.chain] == [type(x).__name__ for x in real]
    assert [e.message for e in info.chain] == [str(x) for x in real]
    for entry, item in zip(info.chain, real, strict=True):
        parsed = [(f.filename, f.lineno, f.function, f.source_line) for f in entry.frames]
        assert parsed == _real_frames(item)


@pytest.mark.parametrize("case", CASES)
def test_stored_stacktrace_gives_the_live_fingerprint(shop: types.ModuleType, case: str) -> None:
    """The fingerprint and template of the parsed stack trace are the live exception's."""
    exc = _raise(getattr(shop, case))
    live = from_exception(exc, with_locals=False)
    for with_hints in (True, False):
        stored = _parsed(exc, with_hints)
        assert fingerprint(stored) == fingerprint(live)
        assert template(stored) == template(live)


def test_group_members_are_not_part_of_the_chain(shop: types.ModuleType) -> None:
    """An exception group's members (behind the deeper gutter) add no entry and no frame."""
    exc = _raise(shop.grouped)
    info = _parsed(exc, with_hints=False)
    assert [e.type_name for e in info.chain] == ["ExceptionGroup"]
    assert {f.function for f in info.top.frames} == {"_raise", "grouped"}


def test_a_syntax_error_location_is_not_a_frame() -> None:
    """A SyntaxError's ``File "<string>", line 1`` line is its message's location, not a frame."""
    exc = _raise(lambda: compile("x = (", "<string>", "exec"))
    info = _parsed(exc, with_hints=False)
    assert info.message == str(exc)
    assert [f[:3] for f in _real_frames(exc)] == [
        (f.filename, f.lineno, f.function) for f in info.top.frames]


def test_empty_message_template_is_the_type_alone(shop: types.ModuleType) -> None:
    """An exception without a message names its group by its type, with no dangling colon."""
    info = _parsed(_raise(shop.empty_timeout), with_hints=True)
    assert (info.message, template(info)) == ("", "TimeoutError")
