"""Fingerprints: stable across message changes and line shifts; split by type and root frame."""

from __future__ import annotations

import importlib.util
import textwrap
import traceback
import types
from pathlib import Path

import pytest

from otel_workflow.diagnosis.fingerprint import fingerprint, template
from otel_workflow.diagnosis.model import ErrorInfo, ExceptionEntry
from otel_workflow.diagnosis.params import parameterize
from otel_workflow.diagnosis.rules import register_error_rule, unregister_error_rule
from otel_workflow.diagnosis.tracebacks import from_exception, parse_stacktrace

SHOP = '''
def load(order_id):
    raise LookupError(f"order {order_id} not found at {order_id * 7}.5s")


def charge(order_id):
    return load(order_id)


def walk(n):
    if n == 0:
        raise RecursionError("deep")
    return walk(n - 1)
'''


def _module(directory: Path, source: str, prefix: str = "") -> types.ModuleType:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "shop.py"
    path.write_text(prefix + textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location("shop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _info(call: object, *args: object) -> ErrorInfo:
    try:
        call(*args)  # type: ignore[operator]
    except Exception as exc:
        return from_exception(exc)
    raise AssertionError("no exception")


def test_same_failure_with_other_message_and_shifted_lines_is_one_group(tmp_path: Path) -> None:
    """Ids in the message and lines added above unchanged code keep the fingerprint."""
    before = _module(tmp_path / "v1", SHOP)
    after = _module(tmp_path / "v2", SHOP, prefix="import os\n\n\n# a new comment\n")
    a = _info(before.charge, 12)
    b = _info(after.charge, 98765)
    assert a.top.frames[-1].lineno != b.top.frames[-1].lineno
    assert a.message != b.message
    assert fingerprint(a) == fingerprint(b)


def test_different_root_frame_or_type_is_another_group(tmp_path: Path) -> None:
    """Changing the failing line or the exception type makes a new group."""
    base = _module(tmp_path / "v1", SHOP)
    changed = _module(tmp_path / "v2", SHOP.replace("raise LookupError(", "raise KeyError("))
    edited = _module(tmp_path / "v3", SHOP.replace("return load(order_id)",
                                                   "return load(order_id=order_id)"))
    fp = fingerprint(_info(base.charge, 1))
    assert fingerprint(_info(changed.charge, 1)) != fp
    assert fingerprint(_info(edited.charge, 1)) != fp


def test_recursion_depth_does_not_split_groups(tmp_path: Path) -> None:
    """A recursive frame counts once however deep the recursion went."""
    shop = _module(tmp_path / "v1", SHOP)
    assert fingerprint(_info(shop.walk, 3)) == fingerprint(_info(shop.walk, 30))


def test_stack_trace_string_gives_the_live_fingerprint(tmp_path: Path) -> None:
    """Parsing the span's exception.stacktrace groups the error like the live exception."""
    shop = _module(tmp_path / "v1", SHOP)
    try:
        shop.charge(5)
    except LookupError as exc:
        text = "".join(traceback.format_exception(exc))
        assert fingerprint(parse_stacktrace(text, "LookupError", str(exc))) == fingerprint(
            from_exception(exc))


def test_without_a_stack_the_parameterised_message_groups() -> None:
    """With no frames, messages differing only in values share a group; others do not."""
    def info(message: str) -> ErrorInfo:
        return ErrorInfo((ExceptionEntry("ValueError", message),))

    a = info("user 42 (ada@example.com) sent 3.5 at 2024-05-01T10:00:00Z")
    b = info("user 7 (bob@example.org) sent 12.25 at 2025-01-09T23:59:59Z")
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(info("quota exceeded"))
    assert template(a) == "ValueError: user <int> (<email>) sent <float> at <date>"


@pytest.mark.parametrize(
    ("message", "expected"),
    [("GET https://api.example.com/v1?id=3 failed", "GET <url> failed"),
     ("db1.prod.internal refused", "<hostname> refused"),
     ("from 10.1.2.3 and fe80::1", "from <ip> and <ip>"),
     ("id 550e8400-e29b-41d4-a716-446655440000", "id <uuid>"),
     ("sha da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha <sha1>"),
     ("md5 d41d8cd98f00b204e9800998ecf8427e", "md5 <md5>"),
     ("at Tue, 01 May 2024 12:30:00 +0000", "at <date>"),
     ("at 12:31:02", "at <time>"),
     ("after 250ms", "after <duration>"),
     ("ptr 0xdeadbeef", "ptr <hex>"),
     ("key='abc' name=\"x\"", "key=<quoted> name=<quoted>")],
)  # fmt: skip
def test_parameterisation(message: str, expected: str) -> None:
    """Each kind of variable part becomes its placeholder."""
    assert parameterize(message) == expected


def test_rule_fingerprint_overrides_and_refines(tmp_path: Path) -> None:
    """A rule's fixed fingerprint merges groups; a {{ default }} list refines them."""
    shop = _module(tmp_path / "v1", SHOP)
    info = _info(shop.charge, 1)
    rule = register_error_rule(LookupError, fingerprint="orders-lookup")
    try:
        from otel_workflow.diagnosis.recording import override_for

        assert fingerprint(info, override_for(info, {})) == fingerprint(info, "orders-lookup")
    finally:
        unregister_error_rule(rule)
    refined = fingerprint(info, ["{{ default }}", "tenant-a"])
    assert refined not in (fingerprint(info), fingerprint(info, ["{{ default }}", "tenant-b"]))
