"""The demo's Prometheus config ships inside the package and stays equal to collector-config/."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from otel_workflow.demo.prometheus import SHIPPED_CONFIG_DIR

ROOT = Path(__file__).resolve().parents[2]
ORIGINALS = ROOT / "collector-config" / "prometheus"
SHIPPED = ("prometheus.yml", "rules/alerts.yml", "rules/recording.yml")


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*.yml")}


def test_packaged_copies_equal_the_originals() -> None:
    """Every packaged config file is byte-equal to its collector-config/prometheus original."""
    assert _files(SHIPPED_CONFIG_DIR) == set(SHIPPED)
    assert set(SHIPPED) <= _files(ORIGINALS)
    for name in SHIPPED:
        assert filecmp.cmp(SHIPPED_CONFIG_DIR / name, ORIGINALS / name, shallow=False), name


_CHECK = """
import json, otel_workflow
from otel_workflow.demo.prometheus import SHIPPED_CONFIG_DIR
print(json.dumps({"package": otel_workflow.__file__, "config": str(SHIPPED_CONFIG_DIR),
                  "rules": sorted(p.name for p in (SHIPPED_CONFIG_DIR / "rules").glob("*.yml")),
                  "config_file": (SHIPPED_CONFIG_DIR / "prometheus.yml").is_file()}))
"""


@pytest.mark.integration
def test_installed_wheel_finds_the_demo_config(tmp_path: Path) -> None:
    """A wheel installed with plain pip carries prometheus.yml and the rules the demo loads."""
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True,
                   timeout=120, capture_output=True)  # fmt: skip
    (wheel,) = wheels.glob("otel_workflow-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)  # fmt: skip
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
                   check=True, timeout=120, capture_output=True)  # fmt: skip
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                                "'purelib'))"], check=True, capture_output=True, text=True,
                               timeout=60).stdout.strip())  # fmt: skip
    # The dependencies come from this environment's site-packages, listed after the venv's own
    # (a path in a .pth file is appended, and its own .pth files, like the editable hook of
    # this checkout, are not run), so the installed copy is the one imported.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    result = subprocess.run([str(python), "-c", _CHECK], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["package"]).is_relative_to(venv)
    assert Path(found["config"]).is_relative_to(site)
    assert found["config_file"] is True
    assert found["rules"] == ["alerts.yml", "recording.yml"]
