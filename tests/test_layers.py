"""The import graph of otel_workflow follows DESIGN.md's layers.

Every module under ``otel_workflow/`` (and ``exporters/``, packaged as
``otel_workflow.exporters``) is parsed with :mod:`ast`; its module-level imports (those
that run on import: not inside a function, not under ``if TYPE_CHECKING:``) are the edges.
Three rules, each failure listing the offending edges:

(a) no import cycle between the feature packages;
(b) imports point down the layers: cli, demo, dashboards > reports, debugger, diagnosis >
    analytics > store, exporters > core (the other top-level modules) > leaves (semconv,
    capture, _guard), and a leaf imports only leaves;
(c) no module imports another package's private module (last component ``_name``).

Edges other helpers are reshaping right now are listed in :data:`KNOWN_EDGES`, each with
why; the lead empties that list as they are fixed.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "otel_workflow"
# Source folder -> the dotted name it is imported as (see [tool.setuptools.package-dir]).
SOURCES = {ROOT / "otel_workflow": PACKAGE, ROOT / "exporters": f"{PACKAGE}.exporters"}

CYCLE_FREE = ("analytics", "reports", "store", "debugger", "diagnosis", "cli", "demo",
              "dashboards")  # fmt: skip
LAYERS: dict[str, int] = {
    # configure() is the composition root: it wires the exporters, the store and the
    # diagnosis, so it (and the opentelemetry-instrument entry point calling it) sits on top.
    "cli": 5, "demo": 5, "dashboards": 5, "config": 5, "instrumentor": 5,
    "reports": 4, "debugger": 4, "diagnosis": 4,
    "analytics": 3,
    "store": 2, "exporters": 2,
}  # fmt: skip
CORE = 1
LEAF = 0
LEAVES = ("semconv", "capture", "scrub", "_guard")
# Modules of a feature package that the core calls on its hot path: the error categories
# (DESIGN.md: "categories ... on the hot path: keep it light") import only leaves, so they
# are leaves themselves wherever their package sits.
LEAF_MODULES = frozenset(f"{PACKAGE}.diagnosis.{name}" for name in
                         ("categories", "known", "labels", "rules"))  # fmt: skip
FACADE = PACKAGE  # otel_workflow/__init__.py: the public API, above every layer

# (importer, imported) module pairs that break a rule today and are being reshaped by
# others in parallel.  Each must go; nothing is added here without a reason beside it.
KNOWN_EDGES: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, dotted in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([dotted, *parts])] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module is imported."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # runs when called, not on import
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _runtime_imports(node.body)
            yield from _runtime_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _runtime_imports(block)
            for handler in node.handlers:
                yield from _runtime_imports(handler.body)
        elif isinstance(node, (ast.With, ast.For, ast.While, ast.ClassDef)):
            yield from _runtime_imports(node.body)


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        package = _package_of(module, MODULES[module]).split(".")
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    for alias in node.names:
        # `from pkg import name` imports the submodule pkg.name when there is one.
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in MODULES else base


def _edges() -> set[tuple[str, str]]:
    edges = set()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _runtime_imports(tree.body):
            for target in _targets(module, node):
                if target in MODULES and target != module:
                    edges.add((module, target))
    return edges


EDGES = _edges()


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def _rank(module: str) -> int | None:
    if module in LEAF_MODULES:
        return LEAF
    top = _top(module)
    if top == FACADE:
        return None
    if top in LAYERS:
        return LAYERS[top]
    if top in LEAVES:
        return LEAF
    # A top-level module (or a package the design does not name) is core.
    return CORE


def _report(bad: list[tuple[str, str]], why: str) -> str:
    lines = [f"{len(bad)} import(s) {why}:"]
    lines += [f"  {src} -> {dst}" for src, dst in sorted(bad)]
    return "\n".join(lines)


def _unexpected(bad: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(edge for edge in bad if edge not in KNOWN_EDGES)


def test_the_graph_is_read() -> None:
    """The parser finds the modules and the imports everyone knows are there."""
    assert f"{PACKAGE}.reports.render" in MODULES and f"{PACKAGE}.semconv" in MODULES
    assert (f"{PACKAGE}.reports.render", f"{PACKAGE}.reports.data") in EDGES
    # The rules' helpers classify what they must.
    assert _private_owner(f"{PACKAGE}.analytics._backend") == f"{PACKAGE}.analytics"
    assert _private_owner(f"{PACKAGE}.analytics.engine") is None
    assert _rank(f"{PACKAGE}.semconv") == LEAF and _rank(f"{PACKAGE}.config") == 5
    # TYPE_CHECKING-only and function-level imports are not edges.
    assert (f"{PACKAGE}.reports.data", f"{PACKAGE}.analytics.engine") not in EDGES
    assert (f"{PACKAGE}.analytics.engine", f"{PACKAGE}.reports") not in EDGES


def _package_cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst in EDGES:
        a, b = _top(src), _top(dst)
        if a != b and a in CYCLE_FREE and b in CYCLE_FREE and (src, dst) not in KNOWN_EDGES:
            graph[a].add(b)
    # Tarjan's strongly connected components: any with two or more packages is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_cycles_between_packages() -> None:
    """No two feature packages import each other, directly or round a longer circle."""
    cycles = _package_cycles()
    detail = [
        f"  {src} -> {dst}"
        for cycle in cycles
        for src, dst in sorted(EDGES)
        if _top(src) in cycle and _top(dst) in cycle and _top(src) != _top(dst)
        and (src, dst) not in KNOWN_EDGES
    ]  # fmt: skip
    assert not cycles, f"package cycles {cycles}, through:\n" + "\n".join(detail)


def test_imports_point_down_the_layers() -> None:
    """An import never points to a higher layer, and a leaf imports only leaves."""
    upward = set()
    for src, dst in EDGES:
        low, high = _rank(src), _rank(dst)
        if low is None or high is None:
            continue  # the facade re-exports the public API from every layer
        if high > low or (low == LEAF and high != LEAF):
            upward.add((src, dst))
    bad = _unexpected(upward)
    assert not bad, _report(
        bad,
        "point up the layers (cli/demo/dashboards > reports/debugger/"
        "diagnosis > analytics > store/exporters > core > leaves)",
    )


def _private_owner(module: str) -> str | None:
    """The package a private module belongs to, or None for a public module."""
    last = module.rpartition(".")[2]
    if not last.startswith("_"):
        return None
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def test_no_reach_into_another_packages_private_module() -> None:
    """A private module (``_name``) is imported only from inside its own package."""
    reaching = set()
    for src, dst in EDGES:
        owner = _private_owner(dst)
        if owner is not None and src != owner and not src.startswith(owner + "."):
            reaching.add((src, dst))
    bad = _unexpected(reaching)
    assert not bad, _report(bad, "reach into another package's private module")


def test_known_edges_are_explained() -> None:
    """Every allowed exception names a reason, so the list cannot grow silently."""
    assert all(reason.strip() for reason in KNOWN_EDGES.values())
