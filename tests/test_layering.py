"""Import layering (docs/ARCHITECTURE.md): warehouse <- etl <- models <- dashboard, with crisisrisk/ on top.

Imports are read with ``ast``, so imports inside functions count too; only imports under ``if TYPE_CHECKING:``
are exempt, because they never run. Allowed exceptions are listed by name, each with its reason.

Inside ``dashboard``: a page (``dashboard/pages/*``) reaches the warehouse only through
``dashboard/queries.py``:
it imports no ``sqlalchemy``, ``warehouse`` or ``etl``, uses no private member of ``Queries`` and does not
touch
the engine, except where named below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"warehouse", "etl", "models", "dashboard", "crisisrisk"}
ALLOWED = {
    "warehouse": {"warehouse"},
    "etl": {"warehouse", "etl"},
    "models": {"warehouse", "models"},
    "dashboard": {"warehouse", "etl", "models", "dashboard"},
    "crisisrisk": OURS,
}
# (file, imported module): why the file may cross its layer
EXCEPTIONS = {
    ("warehouse/jobs.py", "etl.uploads"): (
        "job recovery must repair a killed upload in whichever process finds "
        "the orphan; importing etl.uploads registers that repair hook"
    ),
}


PAGES = ROOT / "dashboard" / "pages"
PAGE_FORBIDDEN = ("sqlalchemy", "warehouse", "etl")
# page file: why it hands the engine on (each still reads through Queries and imports no database module)
PAGE_ENGINE_EXCEPTIONS = {
    "dashboard/pages/admin.py": (
        "its actions (check, load, retrain, promote, roll back, cancel, compare) are "
        "dashboard.workflows functions, shared with the API, which take the engine"
    ),
    "dashboard/pages/alerts.py": (
        "reviews, rule switches and subscriptions are writes of models.alerts and "
        "dashboard.alerts_delivery, shared with the API's alert routes"
    ),
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path, roots: set[str] | None = OURS) -> set[str]:
    """Every absolute module this file imports of ``roots`` (None: of any package), at any depth, except under
    ``if TYPE_CHECKING:``."""
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
    return {name for name in found if roots is None or name.split(".")[0] in roots}


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
        assert any(
            m == module or m.startswith(module + ".") for m in imported_modules(ROOT / rel)
        ), f"{rel} no longer imports {module}: remove the exception"


def test_checker_reads_function_level_imports_and_exempts_type_checking(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "from models.features import build_panel\n"
        "if TYPE_CHECKING:\n    from dashboard.app import AppContext\n"
        "def f():\n    import etl.loader\n    from warehouse import io as store\n"
    )
    assert imported_modules(bad) == {"models.features.build_panel", "etl.loader", "warehouse.io"}


def _private_queries_members() -> set[str]:
    """Names of the private methods and attributes of ``dashboard.queries.Queries``."""
    tree = ast.parse((ROOT / "dashboard" / "queries.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Queries")
    names = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    names |= {
        n.attr
        for n in ast.walk(cls)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
    }
    return {n for n in names if n.startswith("_") and not n.endswith("__")}


def page_problems(path: Path, private: set[str], rel: str | None = None) -> list[str]:
    """Why this page reaches the warehouse other than through ``Queries`` (empty: it does not)."""
    rel = rel or str(path.relative_to(ROOT))
    problems = [
        f"imports {m}" for m in sorted(imported_modules(path, None)) if m.split(".")[0] in PAGE_FORBIDDEN
    ]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in private:
            problems.append(f"line {node.lineno}: uses Queries.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr == "engine" and rel not in PAGE_ENGINE_EXCEPTIONS:
            problems.append(f"line {node.lineno}: touches the engine")
    return sorted(problems)


def test_pages_reach_the_warehouse_only_through_queries():
    private = _private_queries_members()
    assert {"_cached", "_frame"} <= private  # the checker sees the members it guards
    files = sorted(PAGES.glob("*.py"))
    assert len(files) >= 9, "dashboard/pages/ not found"
    violations = {str(f.relative_to(ROOT)): p for f in files if (p := page_problems(f, private))}
    assert not violations, f"pages that bypass dashboard/queries.py: {violations}"


def test_every_page_engine_exception_is_still_needed():
    for rel in PAGE_ENGINE_EXCEPTIONS:
        tree = ast.parse((ROOT / rel).read_text())
        assert any(
            isinstance(n, ast.Attribute) and n.attr == "engine" for n in ast.walk(tree)
        ), f"{rel} no longer touches the engine: remove its exception"


def test_page_checker_finds_sql_private_members_and_the_engine(tmp_path):
    bad = tmp_path / "bad_page.py"
    bad.write_text(
        "from sqlalchemy import select\nfrom warehouse.schema import region\n"
        "def layout(q, ctx):\n    import etl.sources\n    return q._cached('x', (), list), ctx.engine\n"
    )
    assert page_problems(bad, {"_cached"}, rel="dashboard/pages/bad_page.py") == [
        "imports etl.sources",
        "imports sqlalchemy.select",
        "imports warehouse.schema.region",
        "line 5: touches the engine",
        "line 5: uses Queries._cached",
    ]
    assert (
        page_problems(bad, {"_cached"}, rel="dashboard/pages/admin.py")[-1] == "line 5: uses Queries._cached"
    )


def test_no_dashboard_module_uses_private_queries_members():
    """Outside dashboard/queries.py, nothing reaches into a Queries object's private members
    (``q._cached``)."""
    private = _private_queries_members()
    found = {}
    for f in sorted((ROOT / "dashboard").rglob("*.py")):
        if f.name == "queries.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in private
                and (
                    isinstance(node.value, ast.Name)
                    and node.value.id == "q"
                    or isinstance(node.value, ast.Attribute)
                    and node.value.attr == "queries"
                )
            ):
                found.setdefault(str(f.relative_to(ROOT)), []).append(f"line {node.lineno}: {node.attr}")
    assert not found, f"private Queries members used outside dashboard/queries.py: {found}"
