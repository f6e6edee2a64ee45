"""The public API as type checkers see it: lazily loaded names keep their real signatures."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import otel_workflow as ow

ROOT = Path(__file__).resolve().parents[2]

GOOD = '''
import otel_workflow as ow

@ow.workflow(type="order")
def checkout(order_id: int) -> int:
    return order_id

handle: ow.WorkflowTelemetry = ow.configure(service_name="orders", metrics_port=0)
handle.shutdown(1000)
ow.instrument("json:dumps", kind="step")
ow.uninstrument("json:dumps")
engine: ow.AnalyticsEngine
'''


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mypy") is None:  # pragma: no cover - dev extra
        pytest.skip("mypy is not installed (dev extra)")
    user = tmp_path / "user_code.py"
    user.write_text(source, encoding="utf-8")
    # The editable install's import hook is invisible to mypy: point it at the source tree,
    # and check only the user's file (the package has its own strict run).
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--no-error-summary", "--cache-dir", str(tmp_path / ".mypy_cache"), str(user)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_mypy_reports_a_misspelt_configure_option(tmp_path: Path) -> None:
    """mypy sees ow.configure's real signature and reports a misspelt keyword."""
    result = _mypy(tmp_path, "import otel_workflow as ow\now.configure(metrics_prot=1)\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Unexpected keyword argument "metrics_prot" for "configure"' in result.stdout


def test_mypy_passes_correct_user_code(tmp_path: Path) -> None:
    """Correct use of the lazily loaded names type-checks cleanly under --strict."""
    result = _mypy(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_type_checking_imports_match_the_lazy_table() -> None:
    """Every lazily loaded name has a TYPE_CHECKING import of the same object, and back."""
    tree = ast.parse((ROOT / "otel_workflow" / "__init__.py").read_text("utf-8"))
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                for alias in statement.names:
                    imported[alias.asname or alias.name] = statement.module
    lazy = ow._LAZY  # the table __getattr__ uses
    assert set(imported) == set(lazy)
    for name, (module, attribute) in lazy.items():
        assert getattr(importlib.import_module(imported[name]), name) is getattr(
            importlib.import_module(module), attribute
        )

