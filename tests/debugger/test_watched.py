"""ow.watched: in-place mutations of dicts, lists and objects, reported with the step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import otel_workflow as ow
from otel_workflow.debugger import WorkflowDebugger, set_default, watch_of


class Cart:
    def __init__(self) -> None:
        self.total = 0

    def update(self, amount: int) -> None:  # a method named like a mapping's: not reported
        self.total += amount


@ow.step
def pay(order: Any) -> None:
    order["status"] = "paid"
    order["password"] = "hunter2"


@ow.step
def add(order: Any) -> None:
    order["items"].append("A-1")


@ow.step
def bump(cart: Any) -> None:
    cart.total = 5


@ow.workflow
def checkout(order: Any, cart: Any) -> None:
    pay(order)
    add(order)
    bump(cart)


@pytest.fixture
def default(dbg: WorkflowDebugger) -> Iterator[WorkflowDebugger]:
    """The fixture's debugger is what ow.debugger() returns."""
    set_default(dbg)
    try:
        yield dbg
    finally:
        set_default(None)


def _summary(proxy: Any) -> list[tuple[Any, ...]]:
    return [(e["op"], e["step"], e["expression"], e["key"], e["new"])
            for e in watch_of(proxy).events]  # fmt: skip


def test_mutations_are_reported_with_the_step_that_made_them(default: WorkflowDebugger) -> None:
    """setitem, append on a nested list and setattr each name their step; secrets scrubbed."""
    order = ow.watched({"status": "new", "items": []}, name="order")
    cart = ow.watched(Cart(), name="cart")
    assert isinstance(order, dict) and isinstance(cart, Cart)
    checkout(order, cart)
    events = _summary(order)
    assert events[0] == ("setitem", "pay", "order", "status", "paid")
    assert events[1][:4] == ("setitem", "pay", "order", "password")
    assert events[1][4] != "hunter2"
    assert events[2] == ("append", "add", "order['items']", "0", "A-1")
    assert _summary(cart) == [("setattr", "bump", "cart", "total", 5)]
    assert order == {"status": "paid", "items": ["A-1"], "password": "hunter2"}
    stored = default.watch_events(watch_of(order).id)
    assert [e["op"] for e in stored] == ["setitem", "setitem", "append"]


def test_own_methods_of_objects_are_not_mistaken_for_mutators(default: WorkflowDebugger) -> None:
    """An object's own update() runs on the object itself (through ``self``, unseen), not as
    a mapping's update; assignments through the proxy are reported."""
    cart = ow.watched(Cart(), name="cart")
    cart.update(3)
    cart.total = 4
    assert cart.total == 4
    assert [(e["op"], e["old"], e["new"]) for e in watch_of(cart).events] == [("setattr", 3, 4)]


def test_unwatch_stops_reporting(default: WorkflowDebugger) -> None:
    """After unwatch the proxy still works but reports nothing."""
    items = ow.watched([1, 2], name="items")
    items.append(3)
    default.unwatch(watch_of(items).id)
    items.extend([4, 5])
    items += [6]
    assert items == [1, 2, 3, 4, 5, 6]
    assert [e["op"] for e in watch_of(items).events] == ["append"]
    with pytest.raises(TypeError, match="not a watched object"):
        watch_of([1])
