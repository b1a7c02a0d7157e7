"""Import layering (DESIGN §2): etl -> nothing of ours; models -> etl only; dashboard -> etl and models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "etl": {"etl"},
    "models": {"etl", "models"},
    "dashboard": {"etl", "models", "dashboard"},
}
OURS = {"etl", "models", "dashboard", "crisisrisk"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_respect_layering(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files in {package}/"
    violations = {str(f.relative_to(ROOT)): sorted(imports_of(f) - ALLOWED[package]) for f in files}
    violations = {k: v for k, v in violations.items() if v}
    assert not violations, f"layering violations: {violations}"


def test_checker_detects_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from models.features import build_panel\nimport dashboard.app\n")
    assert imports_of(bad) == {"models", "dashboard"}
