"""``ow.watched(obj)``: a wrapt proxy that reports in-place mutations to a watch.

An expression watch sees a value change only at step boundaries; a watched object reports
each mutation as it happens, with the step that made it: ``order["status"] = "paid"``,
``items.append(x)``, ``cart.total = 3``.  The proxy behaves as the object (``isinstance``,
equality, iteration, ``len``; wrapt forwards everything else) and keeps its own state in
``_self_*`` attributes.  Containers read through it (``order["items"]``) come back watched
too, so ``order["items"].append(x)`` is reported as a mutation of ``order['items']``.

One proxy class per kind of object, so a user class's own ``update`` or ``pop`` method is
never mistaken for a mapping's: mappings report ``__setitem__``, ``__delitem__``, ``pop``,
``popitem``, ``setdefault``, ``update``, ``clear``; lists also ``append``, ``extend``,
``insert``, ``remove``, ``sort``, ``reverse``, ``+=``; other objects ``setattr`` and
``delattr``.  Reported values are captured (bounded, scrubbed by key name).  What an
object's own methods change through ``self`` bypasses the proxy and is not seen.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, MutableSequence
from typing import TYPE_CHECKING, Any

import wrapt

from otel_workflow._hooks import CURRENT_CALL
from otel_workflow.capture import capture
from otel_workflow.debugger.snapshots import SNAPSHOT_LIMITS

if TYPE_CHECKING:
    from otel_workflow.debugger.following import Watch


class _Watched(wrapt.ObjectProxy):  # type: ignore[type-arg,misc]
    """The common part: where to report, under which path."""

    def __init__(self, wrapped: Any, watch: Watch, report: Any, path: str) -> None:
        super().__init__(wrapped)
        self._self_watch = watch
        self._self_report = report  # report(watch, path, op, key, old, new)
        self._self_path = path

    def _self_tell(self, op: str, key: Any = None, old: Any = None, new: Any = None) -> None:
        self._self_report(self._self_watch, self._self_path, op, key, old, new)

    def _self_child(self, key: Any, value: Any) -> Any:
        if isinstance(value, _Watched) or not isinstance(value, (MutableMapping, MutableSequence)):
            return value
        return wrap(value, self._self_watch, self._self_report, f"{self._self_path}[{key!r}]")

    def __reduce_ex__(self, protocol: Any) -> Any:  # pickling: the plain object
        return self.__wrapped__.__reduce_ex__(protocol)


class _Container(_Watched):
    def __getitem__(self, key: Any) -> Any:
        value = self.__wrapped__[key]
        return value if isinstance(key, slice) else self._self_child(key, value)

    def __setitem__(self, key: Any, value: Any) -> None:
        old = _get(self.__wrapped__, key)
        self.__wrapped__[key] = value
        self._self_tell("setitem", key, old, value)

    def __delitem__(self, key: Any) -> None:
        old = _get(self.__wrapped__, key)
        del self.__wrapped__[key]
        self._self_tell("delitem", key, old)

    def pop(self, *args: Any) -> Any:
        value = self.__wrapped__.pop(*args)
        self._self_tell("pop", args[0] if args else None, value)
        return value

    def clear(self) -> None:
        old = len(self.__wrapped__)
        self.__wrapped__.clear()
        if old:
            self._self_tell("clear", None, old, 0)


class WatchedMapping(_Container):
    """A watched dict (or any mutable mapping)."""

    def popitem(self) -> Any:
        key, value = self.__wrapped__.popitem()
        self._self_tell("popitem", key, value)
        return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self.__wrapped__:
            return self._self_child(key, self.__wrapped__[key])
        self.__wrapped__[key] = default
        self._self_tell("setdefault", key, None, default)
        return self._self_child(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        changes = dict(*args, **kwargs)
        for key, value in changes.items():
            old = _get(self.__wrapped__, key)
            self.__wrapped__[key] = value
            self._self_tell("update", key, old, value)


class WatchedList(_Container):
    """A watched list (or any mutable sequence)."""

    def append(self, value: Any) -> None:
        self.__wrapped__.append(value)
        self._self_tell("append", len(self.__wrapped__) - 1, None, value)

    def extend(self, values: Any) -> None:
        values = list(values)
        self.__wrapped__.extend(values)
        self._self_tell("extend", None, None, values)

    def insert(self, index: int, value: Any) -> None:
        self.__wrapped__.insert(index, value)
        self._self_tell("insert", index, None, value)

    def remove(self, value: Any) -> None:
        self.__wrapped__.remove(value)
        self._self_tell("remove", None, value)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self.__wrapped__.sort(*args, **kwargs)
        self._self_tell("sort")

    def reverse(self) -> None:
        self.__wrapped__.reverse()
        self._self_tell("reverse")

    def __iadd__(self, other: Any) -> WatchedList:
        self.extend(other)
        return self


class WatchedObject(_Watched):
    """A watched object: attribute assignments and deletions are reported."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_self_") or name in ("__wrapped__",):
            super().__setattr__(name, value)
            return
        old = getattr(self.__wrapped__, name, None)
        setattr(self.__wrapped__, name, value)
        self._self_tell("setattr", name, old, value)

    def __delattr__(self, name: str) -> None:
        if name.startswith("_self_"):
            super().__delattr__(name)
            return
        old = getattr(self.__wrapped__, name, None)
        delattr(self.__wrapped__, name)
        self._self_tell("delattr", name, old)


def _get(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        return None


def wrap(obj: Any, watch: Watch, report: Any, path: str) -> Any:
    """The proxy class that fits ``obj``."""
    if isinstance(obj, _Watched):
        return obj
    if isinstance(obj, MutableMapping):
        return WatchedMapping(obj, watch, report, path)
    if isinstance(obj, MutableSequence):
        return WatchedList(obj, watch, report, path)
    return WatchedObject(obj, watch, report, path)


def watch_of(proxy: Any) -> Watch:
    """The :class:`Watch` a proxy made by ``ow.watched`` reports to (its ``events``)."""
    if not isinstance(proxy, _Watched):
        raise TypeError(f"not a watched object: {type(proxy).__name__}")
    return proxy._self_watch  # type: ignore[no-any-return]


def mutation_event(
    watch: Watch, path: str, op: str, key: Any, old: Any, new: Any
) -> dict[str, Any] | None:
    """The watch event of one mutation, naming the current step (None: another workflow)."""
    call = CURRENT_CALL.get()
    if call is not None and watch.workflow not in (None, call.workflow):
        return None
    label = "value" if key is None else str(key)
    # Captured under the key's name, so a secret-named key is scrubbed.
    old_value = capture({label: old}, SNAPSHOT_LIMITS).data
    new_value = capture({label: new}, SNAPSHOT_LIMITS).data
    event = {
        "watch_id": watch.id,
        "expression": path,
        "op": op,
        "key": None if key is None else str(key),
        "execution_id": call.execution_id if call is not None else None,
        "step": call.name if call is not None else None,
        "step_index": call.step_index if call is not None else None,
        "old": old_value.get(label) if isinstance(old_value, dict) else None,
        "new": new_value.get(label) if isinstance(new_value, dict) else None,
        "ts": time.time(),
    }
    return event
