"""The restricted evaluator: what it allows, what it refuses when set, and its run-time bounds."""

from __future__ import annotations

import ast

import pytest

from otel_workflow.debugger import expressions
from otel_workflow.debugger.expressions import (
    EvaluationError,
    ExpressionError,
    compile_expression,
    compile_template,
)

ORDER = {"order": {"total": 150, "items": [{"sku": "A-1", "qty": 2}], "status": "new"}}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("order['total'] > 100", True),
        ("order['items'][0]['sku']", "A-1"),
        ("len(order['items']) == 1 and order['status'] in ('new', 'paid')", True),
        ("order['total'] * 2 + 1", 301),
        ("not order['items'][0]['qty'] < 2", True),
        ("'big' if order['total'] >= 100 else 'small'", "big"),
        ("sorted([3, 1, 2])[0:2]", [1, 2]),
        ("max(1, order['total'], 7) - min([4, 5])", 146),
        ("round(order['total'] / 7, 2)", round(150 / 7, 2)),
        ("1 < order['total'] <= 150", True),
    ],
)
def test_allowed_expressions_evaluate_over_captured_data(source: str, expected: object) -> None:
    """Comparisons, boolean logic, arithmetic, subscripts and the pure functions work."""
    assert compile_expression(source).evaluate(ORDER) == expected


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
        ("__import__('os')", "names starting with '_'"),
        ("order.items", "attribute access"),
        ("open('/etc/passwd')", "only these functions"),
        ("[x for x in order]", "comprehension"),
        ("(lambda: 1)()", "lambda"),
        ("password == 'x'", "scrubbed"),
        ("order['api_key'] == 'x'", "scrubbed"),
        ("user['session_id']", "scrubbed"),
        ("(y := 1)", "assignment"),
        ("1 << 10000", "<<"),
        ("sorted(order, key=len)", "keyword"),
        ("order['total'] >", "invalid syntax"),
        ("order['__class__']", "dunder"),
    ],
)
def test_refused_expressions_name_the_offending_part(source: str, fragment: str) -> None:
    """Attacks, calls, secrets and syntax errors are refused at compile time with a pointer."""
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert fragment in str(info.value)
    assert "^" in str(info.value)


def test_pointer_sits_under_the_attribute() -> None:
    """The caret line marks the refused node's columns in the source."""
    with pytest.raises(ExpressionError) as info:
        compile_expression("a['x'] + b.c")
    _, line, caret = str(info.value).splitlines()
    assert line.strip() == "a['x'] + b.c"
    start = caret.index("^") - 2  # both lines are indented by two spaces
    assert line[2:][start:] == "b.c"


@pytest.mark.parametrize(
    "source",
    [
        "9**9**9",
        "'a'*10**9",
        "[0]*10**9",
        "10**5000",
        "2**4000 * 2**4000",
        "round(10, -10**9)",
        "str(2**4095) * 1000",
        "'%*d' % (10**9, 1)",
    ],
)
def test_unbounded_arithmetic_is_refused_at_run_time(source: str) -> None:
    """Results that would exhaust memory or CPU fail fast with EvaluationError."""
    expr = compile_expression(source)
    with pytest.raises(EvaluationError):
        expr.evaluate({})


def test_step_budget_stops_a_long_evaluation() -> None:
    """An expression visiting more nodes than the budget allows fails instead of running on."""
    source = " + ".join(["1"] * 200)
    expr = compile_expression(source)
    assert expr.evaluate({}) == 200
    with pytest.raises(EvaluationError, match="budget"):
        expr.evaluate({}, budget=100)


def test_runtime_errors_become_evaluation_errors() -> None:
    """A missing key, a wrong type or an unknown name is an EvaluationError naming the cause."""
    for source in ("order['missing']", "order['total'] + 'x'", "nobody", "1 / 0"):
        with pytest.raises(EvaluationError):
            compile_expression(source).evaluate(ORDER)


def test_a_runtime_secret_key_is_refused() -> None:
    """A subscript key computed at run time that names a secret is refused too."""
    expr = compile_expression("data['tok' + 'en']")
    with pytest.raises(EvaluationError, match="scrubbed"):
        expr.evaluate({"data": {"token": "[REDACTED]"}})


def test_evaluator_never_compiles_code() -> None:
    """The module holds no eval/exec/compile call: evaluation walks the tree."""
    import inspect

    tree = ast.parse(inspect.getsource(expressions))
    called = {
        node.func.id for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }  # fmt: skip
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_templates_render_expressions_and_literal_braces() -> None:
    """A log template fills ``{expr}`` parts and keeps ``{{`` ``}}`` as braces."""
    template = compile_template("charged {order['total']} for {{sku}} {order['items'][0]['sku']}")
    assert template.render(ORDER) == "charged 150 for {sku} A-1"


def test_template_with_a_bad_part_is_refused_when_set() -> None:
    """A template whose expression is not allowed is refused like a condition."""
    with pytest.raises(ExpressionError):
        compile_template("x={order.total}")
    with pytest.raises(ExpressionError, match="unclosed"):
        compile_template("x={order['total']")


def test_template_part_failing_at_run_time_renders_an_error_marker() -> None:
    """A template part that fails on the data shows an error instead of raising."""
    assert compile_template("{order['nope']}").render(ORDER).startswith("<error:")


def test_non_string_expression_is_a_type_error() -> None:
    """Passing a non-string is a TypeError, not a crash deeper in."""
    with pytest.raises(TypeError):
        compile_expression(42)  # type: ignore[arg-type]
