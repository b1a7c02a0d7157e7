"""Import layering (docs/ARCHITECTURE.md): warehouse <- etl <- models <- dashboard, with crisisrisk/ on top.

Imports are read with ``ast``, so imports inside functions count too; only imports under ``if TYPE_CHECKING:``
are exempt, because they never run. Allowed exceptions are listed by name, each with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"warehouse", "etl", "models", "scaleout", "dashboard", "crisisrisk"}
ALLOWED = {
    "warehouse": {"warehouse"},
    "etl": {"warehouse", "etl"},
    "models": {"warehouse", "models"},
    "scaleout": {"warehouse", "etl", "models", "scaleout"},  # issue 16: the Dask pipeline, beside the dashboard
    "dashboard": {"warehouse", "etl", "models", "dashboard"},
    "crisisrisk": OURS,
}
# (file, imported module): why the file may cross its layer
EXCEPTIONS = {
    ("warehouse/jobs.py", "etl.uploads"): "job recovery must repair a killed upload in whichever process finds "
                                          "the orphan; importing etl.uploads registers that repair hook",
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module this file imports of ours, at any depth, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name.split(".")[0] in OURS}


def _allowed(rel: str, module: str, package: str) -> bool:
    if module.split(".")[0] in ALLOWED[package]:
        return True
    return any(rel == f and (module == m or module.startswith(m + ".")) for f, m in EXCEPTIONS)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_respect_layering(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files in {package}/"
    violations = {}
    for f in files:
        rel = str(f.relative_to(ROOT))
        bad = sorted(m for m in imported_modules(f) if not _allowed(rel, m, package))
        if bad:
            violations[rel] = bad
    assert not violations, f"layering violations: {violations}"


def test_every_exception_is_still_needed():
    for rel, module in EXCEPTIONS:
        assert any(m == module or m.startswith(module + ".") for m in imported_modules(ROOT / rel)), (
            f"{rel} no longer imports {module}: remove the exception")


def test_checker_reads_function_level_imports_and_exempts_type_checking(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "from models.features import build_panel\n"
        "if TYPE_CHECKING:\n    from dashboard.app import AppContext\n"
        "def f():\n    import etl.loader\n    from warehouse import io as store\n")
    assert imported_modules(bad) == {"models.features.build_panel", "etl.loader", "warehouse.io"}
