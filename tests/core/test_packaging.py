"""Packaging: `exporters/` is the package `otel_workflow.exporters` (mapped, not linked)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _git_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [p for p in out.decode().split("\0") if p]


def test_exporters_import_from_the_top_level_directory() -> None:
    """`otel_workflow.exporters.store` is the file in the top-level `exporters/` directory."""
    import otel_workflow.exporters
    import otel_workflow.exporters.store

    assert Path(otel_workflow.exporters.store.__file__).resolve() == ROOT / "exporters" / "store.py"
    assert [Path(p).resolve() for p in otel_workflow.exporters.__path__] == [ROOT / "exporters"]
    assert not (ROOT / "otel_workflow" / "exporters").exists()


def test_repository_holds_no_symlink() -> None:
    """No tracked file is a symlink (`git ls-files -s` has no mode 120000 entry)."""
    _git_files()
    staged = subprocess.run(
        ["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True,
        timeout=60,
    ).stdout  # fmt: skip
    assert [line for line in staged.splitlines() if line.startswith("120000")] == []


def test_wheel_holds_every_module_under_its_package_name(tmp_path: Path) -> None:
    """A wheel built from the sources has `exporters/*.py` as `otel_workflow/exporters/*.py`."""
    source = tmp_path / "src"
    for name in _git_files():
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "whl"),
         str(source)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "whl").glob("otel_workflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"otel_workflow/exporters/{p.name}" for p in (source / "exporters").glob("*.py")
    } | {
        p.relative_to(source).as_posix()
        for p in (source / "otel_workflow").rglob("*.py")
        if (p.parent / "__init__.py").exists()
    }
    assert "otel_workflow/exporters/store.py" in expected
    assert sorted(expected - names) == []
    assert "otel_workflow/py.typed" in names
    assert not any(n.startswith("exporters/") for n in names)
