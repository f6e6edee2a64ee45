"""Run a callback the moment a module binds a name, also when ``python -m`` runs it as ``__main__``.

Why this exists: ``opentelemetry-instrument python -m shop.jobs`` calls the instrumentors from
``sitecustomize``, before ``runpy`` has even put the current directory on ``sys.path``.
``shop.jobs`` cannot be imported then, and importing it anyway would make a second copy:
``runpy`` runs the module's code as ``__main__``, in a fresh namespace, and its
``if __name__ == "__main__":`` block calls the functions while that code is still
executing.  So patching after the module has run is too late, and patching before is
impossible (the functions do not exist yet): the patch must happen *between* the ``def``
and the first call.

How: a :data:`sys.meta_path` finder claims only the modules something waits for and gives
their spec a loader whose ``get_code`` compiles the module's own source with, after each
top-level statement that binds a watched name (``def``, ``class``, an assignment, an
import), one call back into this module.  ``runpy._run_module_as_main`` finds the spec
through ``importlib.util.find_spec`` (so through ``sys.meta_path``) and executes
``loader.get_code(...)``, and an ordinary import executes the same ``get_code`` through
``exec_module``: one mechanism covers both, with public import-system APIs only (no
``exec`` of ours, no tracing hook that would slow every call or fight a debugger or
coverage).  pytest rewrites asserts the same way.  The rewritten code is never written to
``__pycache__``, so a later run without the hook executes the pristine module.  Only
source files are claimed; any other loader is left alone.
"""

from __future__ import annotations

import ast
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import CodeType, ModuleType
from typing import Any

from otel_workflow._guard import report_internal_error

_logger = logging.getLogger("otel_workflow")

#: ``callback(running_name)``: the module, running as ``running_name`` (its own name or
#: ``__main__``), has just bound the watched name.
Callback = Callable[[str], None]

_lock = threading.Lock()
# module name -> [(top-level name, callback)], in registration order.
_watches: dict[str, list[tuple[str, Callback]]] = {}
_HOOK_MODULE = __name__


def when_bound(module: str, name: str, callback: Callback) -> None:
    """Call ``callback`` each time ``module`` (by that name or as ``__main__``) binds ``name``.

    ``name`` is a top-level name of the module (``"Loader"`` for ``Loader.load``).  Only
    modules loaded after this call are seen; the caller handles ones already imported.
    """
    with _lock:
        _watches.setdefault(module, []).append((name, callback))
        if not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())


def forget_all() -> None:
    """Drop every watch and take the finder off ``sys.meta_path``."""
    with _lock:
        _watches.clear()
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


def watched(module: str) -> list[str]:
    """The names watched in ``module`` (for tests and diagnostics)."""
    with _lock:
        return [name for name, _ in _watches.get(module, [])]


def bound(spec_name: str, running_name: str, name: str) -> None:
    """Called by the rewritten module right after it binds ``name``; never raises."""
    with _lock:
        callbacks = [cb for watched_name, cb in _watches.get(spec_name, []) if watched_name == name]
    for callback in callbacks:
        try:
            callback(running_name)
        except Exception as exc:  # the user's module must go on running whatever we do
            report_internal_error("instrumentor", exc)


class _Finder:
    """Claims the watched modules' specs; finds them with the finders after it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        with _lock:
            names = sorted({name for name, _ in _watches.get(fullname, [])})
        if not names:
            return None
        spec = _spec_from_the_others(self, fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            if spec is not None:
                _logger.warning("otel-workflow: cannot instrument %s before it runs (loaded by "
                                "%s, not from a source file)", fullname,
                                type(spec.loader).__name__)  # fmt: skip
            return spec
        assert spec.origin is not None  # a SourceFileLoader always has its file
        spec.loader = _RewritingLoader(fullname, spec.origin, names)
        return spec


def _spec_from_the_others(
    me: _Finder, fullname: str, path: Sequence[str] | None, target: ModuleType | None
) -> importlib.machinery.ModuleSpec | None:
    for finder in list(sys.meta_path):
        if finder is me or isinstance(finder, _Finder):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec: importlib.machinery.ModuleSpec | None = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _RewritingLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose code calls :func:`bound` after each watched binding."""

    def __init__(self, fullname: str, path: str, names: list[str]) -> None:
        super().__init__(fullname, path)
        self._names = frozenset(names)

    def get_code(self, fullname: str) -> CodeType | None:
        source = self.get_data(self.path)
        try:
            tree = ast.parse(source, self.path)
        except SyntaxError:
            # Let the normal path raise the user's SyntaxError with its usual message.
            return super().get_code(fullname)
        try:
            found = _insert_calls(tree, self.name, self._names)
            _warn_unbound(self.name, self._names - found)
            code: CodeType = compile(tree, self.path, "exec", dont_inherit=True)
        except Exception as exc:  # our rewrite failed: run the module as written
            report_internal_error("instrumentor", exc)
            return super().get_code(fullname)
        return code

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
        """Never cache the rewritten bytecode (a run without the hook must not see it)."""


def _warn_unbound(module: str, names: frozenset[str]) -> None:
    for name in sorted(names):
        _logger.warning("otel-workflow: cannot instrument %s:%s: the module never binds %r "
                        "at its top level", module, name, name)  # fmt: skip


def _insert_calls(tree: ast.Module, spec_name: str, names: frozenset[str]) -> set[str]:
    """Add ``bound(...)`` after each statement binding one of ``names``; the names found."""
    found: set[str] = set()
    _rewrite_body(tree.body, spec_name, names, found)
    ast.fix_missing_locations(tree)
    return found


def _rewrite_body(body: list[ast.stmt], spec_name: str, names: frozenset[str],
                  found: set[str]) -> None:  # fmt: skip
    index = 0
    while index < len(body):
        statement = body[index]
        # The bodies of if/try/with/for run at module level; a def's or a class's do not.
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody"):
                nested = getattr(statement, field, None)
                if isinstance(nested, list) and nested and isinstance(nested[0], ast.stmt):
                    _rewrite_body(nested, spec_name, names, found)
            for handler in getattr(statement, "handlers", None) or []:
                if isinstance(handler, ast.ExceptHandler):
                    _rewrite_body(handler.body, spec_name, names, found)
        hits = sorted(_binds(statement) & names)
        found.update(hits)
        body[index + 1 : index + 1] = [_call(spec_name, name, statement) for name in hits]
        index += 1 + len(hits)


def _binds(statement: ast.stmt) -> set[str]:
    """Top-level names ``statement`` itself binds."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    targets: list[Any] = []
    if isinstance(statement, ast.Assign):
        targets = list(statement.targets)
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)) and statement.value is not None:
        targets = [statement.target]
    names: set[str] = set()
    for target in targets:
        names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _call(spec_name: str, name: str, after: ast.stmt) -> ast.stmt:
    # __import__(hook, fromlist=["bound"]).bound(spec_name, __name__, name): no new name is
    # bound in the user's namespace, and __name__ says whether it runs as __main__.
    hook = ast.Call(
        func=ast.Name("__import__", ast.Load()),
        args=[ast.Constant(_HOOK_MODULE)],
        keywords=[ast.keyword("fromlist", ast.List([ast.Constant("bound")], ast.Load()))],
    )
    call = ast.Call(
        func=ast.Attribute(hook, "bound", ast.Load()),
        args=[ast.Constant(spec_name), ast.Name("__name__", ast.Load()), ast.Constant(name)],
        keywords=[],
    )
    statement = ast.Expr(call)
    line = after.end_lineno or after.lineno
    for node in ast.walk(statement):
        node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
        node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
    return statement
