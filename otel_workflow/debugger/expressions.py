"""The restricted expression evaluator for conditions, ``inspect``, watches and log templates.

Expressions are parsed with :mod:`ast` and checked against an allow-list when they are set
(a bad expression is refused then, with a caret under the offending part), and evaluated
later by walking the tree — never with ``eval``/``exec``/``compile`` to code.  They only
ever see *captured copies* (JSON-like data made by :func:`otel_workflow.capture.capture`),
never live objects, and there is no attribute access at all, so there is nothing to reach
``__class__`` or ``__import__`` through.  Datadog's probe expressions and Google's Snapshot
Debugger are the models:

- allowed: literals, names, subscripts and slices, comparisons, ``and``/``or``/``not``,
  ``x if c else y``, arithmetic, and the pure functions in :data:`FUNCTIONS`;
- refused when set: attribute access, names starting with ``_``, lambdas, comprehensions,
  assignment, any other call, and any name or constant key that looks like a secret
  (``password == 'x'`` could reveal a secret by probing it);
- bounded when run: a step budget per evaluation, ``**`` and ``*`` refused when the result
  would exceed :data:`MAX_INT_BITS` or :data:`MAX_SEQUENCE`, ``+`` likewise.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_workflow.scrub import is_secret_key

DEFAULT_STEP_BUDGET = 2_000
"""Nodes (plus items touched by functions) one evaluation may visit."""

MAX_INT_BITS = 4_096
"""No integer result larger than this many bits (``9**9**9`` is refused)."""

MAX_SEQUENCE = 100_000
"""No string, list or tuple result longer than this (``'a'*10**9`` is refused)."""

MAX_EXPRESSION = 1_000
"""Longest expression source accepted."""


class ExpressionError(ValueError):
    """An expression was refused when set; the message points at the offending part."""


class EvaluationError(Exception):
    """An allowed expression failed on this data (missing key, wrong type, over budget)."""


def _checked_len(value: Any) -> Any:
    return len(value)


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "len": _checked_len, "abs": abs, "min": min, "max": max, "any": any, "all": all,
    "str": str, "int": int, "float": float, "round": round, "sorted": sorted, "bool": bool,
}  # fmt: skip
"""The only callables an expression may name; each is pure and bounded by its input."""

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}  # fmt: skip
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Compare,
    ast.IfExp, ast.Subscript, ast.Slice, ast.Name, ast.Load, ast.Constant, ast.List,
    ast.Tuple, ast.Dict, ast.Set, ast.Call, *_BINOPS, *_UNARY, *_COMPARE,
)  # fmt: skip
_DESCRIBE = {
    ast.Attribute: "attribute access", ast.Lambda: "a lambda", ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression", ast.NamedExpr: "an assignment (:=)",
    ast.JoinedStr: "an f-string", ast.Await: "await", ast.Yield: "yield",
    ast.Starred: "unpacking (*)", ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&",
    ast.BitOr: "|", ast.BitXor: "^", ast.Invert: "~", ast.MatMult: "@",
}  # fmt: skip


def _pointer(source: str, node: ast.AST, message: str) -> ExpressionError:
    col = getattr(node, "col_offset", 0) or 0
    end = getattr(node, "end_col_offset", None) or col + 1
    line = source.splitlines()[0] if source else ""
    width = max(1, min(end, len(line)) - col)
    return ExpressionError(f"{message}\n  {line}\n  {' ' * col}{'^' * width}")


@dataclass(frozen=True)
class Expression:
    """A checked expression; :meth:`evaluate` runs it over captured data."""

    source: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, namespace: Mapping[str, Any], *, budget: int = DEFAULT_STEP_BUDGET) -> Any:
        """The expression's value over ``namespace``; raises :class:`EvaluationError`."""
        try:
            return _Evaluator(namespace, budget).run(self.tree.body)
        except EvaluationError as exc:
            raise EvaluationError(f"{self.source!r}: {exc}") from None
        except RecursionError:
            raise EvaluationError(f"{self.source!r}: too deeply nested") from None
        except Exception as exc:  # TypeError, KeyError, ZeroDivisionError ... on the data
            raise EvaluationError(f"{self.source!r}: {type(exc).__name__}: {exc}") from None

    def __str__(self) -> str:
        return self.source


def compile_expression(source: str) -> Expression:
    """Parse and check ``source``; raises :class:`ExpressionError` pointing at what is refused.

    >>> compile_expression("order['total'] > 100").evaluate({"order": {"total": 150}})
    True
    """
    if not isinstance(source, str):
        raise TypeError(f"expression must be a str, got {type(source).__name__}")
    text = source.strip()
    if not text:
        raise ExpressionError("expression is empty")
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION} characters")
    if "\n" in text:
        raise ExpressionError("expression must be on one line")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = max((exc.offset or 1) - 1, 0)
        raise ExpressionError(f"invalid syntax: {exc.msg}\n  {text}\n  {' ' * col}^") from None
    names: set[str] = set()
    nodes = list(ast.walk(tree))
    for node in nodes:  # refused node kinds first: they say most about what is wrong
        if not isinstance(node, _ALLOWED):
            what = _DESCRIBE.get(type(node), type(node).__name__)
            raise _pointer(text, node, f"not allowed in an expression: {what}")
    # Names before calls, so ``__import__('os')`` is refused for its name.
    for node in sorted(nodes, key=lambda n: not isinstance(n, ast.Name)):
        _check_node(text, node, names)
    return Expression(text, tree, frozenset(names))


def _check_node(text: str, node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _pointer(text, node, f"names starting with '_' are not allowed: {node.id!r}")
        if is_secret_key(node.id):
            raise _pointer(text, node, f"{node.id!r} is a scrubbed (secret) name")
        names.add(node.id)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, str) and is_secret_key(node.value):
            raise _pointer(text, node, f"{node.value!r} is a scrubbed (secret) key")
        if isinstance(node.value, str) and node.value.startswith("__"):
            raise _pointer(text, node, "dunder strings are not allowed")
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise _pointer(text, node, f"constant of type {type(node.value).__name__}")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise _pointer(text, node.func, f"only these functions may be called: {allowed}")
        if node.keywords:
            raise _pointer(text, node, "keyword arguments are not allowed")


def _too_big(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() > MAX_INT_BITS
    if isinstance(value, (str, list, tuple, bytes)):
        return len(value) > MAX_SEQUENCE
    return False


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple, dict, set, frozenset)) else 0


class _Evaluator:
    def __init__(self, namespace: Mapping[str, Any], budget: int) -> None:
        self.namespace = namespace
        self.budget = budget

    def spend(self, cost: int = 1) -> None:
        self.budget -= cost
        if self.budget < 0:
            raise EvaluationError("expression exceeded its step budget")

    def run(self, node: ast.expr) -> Any:
        self.spend()
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    # -- leaves -----------------------------------------------------------------------
    def _constant(self, node: ast.Constant) -> Any:
        return node.value

    def _name(self, node: ast.Name) -> Any:
        if node.id in self.namespace:
            return self.namespace[node.id]
        if node.id in ("True", "False", "None"):  # pragma: no cover - parsed as Constant
            return {"True": True, "False": False, "None": None}[node.id]
        raise EvaluationError(f"name {node.id!r} is not defined here")

    # -- containers -------------------------------------------------------------------
    def _list(self, node: ast.List) -> list[Any]:
        return [self.run(e) for e in node.elts]

    def _tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.run(e) for e in node.elts)

    def _set(self, node: ast.Set) -> set[Any]:
        return {self.run(e) for e in node.elts}

    def _dict(self, node: ast.Dict) -> dict[Any, Any]:
        return {self.run(k) if k is not None else None: self.run(v)
                for k, v in zip(node.keys, node.values, strict=True)}  # fmt: skip

    def _subscript(self, node: ast.Subscript) -> Any:
        value = self.run(node.value)
        index = node.slice
        if isinstance(index, ast.Slice):
            parts = [self.run(p) if p is not None else None
                     for p in (index.lower, index.upper, index.step)]  # fmt: skip
            if not isinstance(value, (str, list, tuple)):
                raise EvaluationError(f"cannot slice a {type(value).__name__}")
            self.spend(_size(value))
            return value[slice(*parts)]
        key = self.run(index)
        if isinstance(key, str) and is_secret_key(key):
            raise EvaluationError("subscript names a scrubbed (secret) key")
        if not isinstance(value, (dict, list, tuple, str)):
            raise EvaluationError(f"cannot subscript a {type(value).__name__}")
        return value[key]

    # -- operators --------------------------------------------------------------------
    def _boolop(self, node: ast.BoolOp) -> Any:
        result: Any = None
        for value in node.values:
            result = self.run(value)
            if isinstance(node.op, ast.And) and not result:
                return result
            if isinstance(node.op, ast.Or) and result:
                return result
        return result

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.run(node.operand))

    def _ifexp(self, node: ast.IfExp) -> Any:
        return self.run(node.body) if self.run(node.test) else self.run(node.orelse)

    def _compare(self, node: ast.Compare) -> Any:
        left = self.run(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.run(comparator)
            self.spend(max(_size(left), _size(right)) // 64)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _binop(self, node: ast.BinOp) -> Any:
        left = self.run(node.left)
        right = self.run(node.right)
        op = type(node.op)
        _check_bounds(op, left, right)
        result = _BINOPS[op](left, right)
        self.spend(_size(result) // 64)
        if _too_big(result):  # pragma: no cover - _check_bounds refuses these first
            raise EvaluationError("result too large")
        return result

    def _call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        args = [self.run(a) for a in node.args]
        for arg in args:
            self.spend(_size(arg))
        func = FUNCTIONS[node.func.id]
        if func is str and args and isinstance(args[0], int) and _too_big(args[0]):
            raise EvaluationError("integer too large to convert")
        if func is int and args and isinstance(args[0], str) and len(args[0]) > 1_000:
            raise EvaluationError("string too long to convert to int")
        if func is round and len(args) > 1 and isinstance(args[1], int) and abs(args[1]) > 100:
            raise EvaluationError("round() digits must be within -100..100")
        return func(*args)


def _bits(value: Any) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return value.bit_length()
    return 0


def _check_bounds(op: type[ast.operator], left: Any, right: Any) -> None:
    """Refuse an operation whose result would be huge *before* computing it."""
    ints = isinstance(left, int) and isinstance(right, int)
    if op is ast.Pow:
        if ints and right > 0 and abs(left) > 1 and _bits(left) * right > MAX_INT_BITS:
            raise EvaluationError(f"result too large: {left} ** {right}")
        if isinstance(right, (int, float)) and not ints and abs(right) > 10_000:
            raise EvaluationError("exponent too large")
    elif op is ast.Mult:
        for seq, count in ((left, right), (right, left)):
            sequence = isinstance(seq, (str, list, tuple)) and isinstance(count, int)
            if sequence and count > 0 and len(seq) * count > MAX_SEQUENCE:
                raise EvaluationError(
                    f"result too large: a sequence of {len(seq)} repeated {count} times"
                )
        if ints and _bits(left) + _bits(right) > MAX_INT_BITS:
            raise EvaluationError("result too large: integer multiplication")
    elif op is ast.Add:
        concat = isinstance(left, (str, list, tuple)) and isinstance(right, type(left))
        if concat and len(left) + len(right) > MAX_SEQUENCE:
            raise EvaluationError("result too large: concatenation")
    elif op in (ast.Mod, ast.FloorDiv) and isinstance(left, str):
        # '%' formatting on a string: '%*d' can pad to any width.
        raise EvaluationError("string formatting with % is not allowed")


# -- log message templates ------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A log message with ``{expression}`` parts (``{{``/``}}`` are literal braces)."""

    source: str
    parts: tuple[str | Expression, ...]

    def render(self, namespace: Mapping[str, Any], *, max_length: int = 1_024) -> str:
        """The message with each part evaluated; a failing part renders as ``<error: ...>``."""
        from otel_workflow.capture import capture

        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                value = part.evaluate(namespace)
            except EvaluationError as exc:
                out.append(f"<error: {exc}>")
                continue
            data = capture(value).data
            out.append(data if isinstance(data, str) else repr(data))
        text = "".join(out)
        return text if len(text) <= max_length else text[:max_length] + "…"


_QUOTES = re.compile(r"""('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""")


def compile_template(source: str) -> Template:
    """Split ``source`` into text and checked expressions; raises :class:`ExpressionError`."""
    if not isinstance(source, str):
        raise TypeError(f"log message must be a str, got {type(source).__name__}")
    parts: list[str | Expression] = []
    text: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch in "{}" and source[i + 1 : i + 2] == ch:
            text.append(ch)
            i += 2
            continue
        if ch == "}":
            raise ExpressionError(f"unmatched '}}' at position {i} in {source!r}")
        if ch != "{":
            text.append(ch)
            i += 1
            continue
        end = _closing_brace(source, i)
        if text:
            parts.append("".join(text))
            text = []
        parts.append(compile_expression(source[i + 1 : end]))
        i = end + 1
    if text:
        parts.append("".join(text))
    return Template(source, tuple(parts))


def _closing_brace(source: str, start: int) -> int:
    depth = 0
    i = start + 1
    while i < len(source):
        ch = source[i]
        if ch in "'\"":
            match = _QUOTES.match(source, i)
            if match is None:
                break
            i = match.end()
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise ExpressionError(f"unclosed '{{' at position {start} in {source!r}")
