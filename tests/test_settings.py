"""Every CRISISRISK_* setting: declared once (warehouse/settings.py), typed, read through it, documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from warehouse import settings
from warehouse.settings import PROJECT_ROOT, SettingError

NAME = re.compile(r"CRISISRISK_[A-Z0-9_]*[A-Z0-9]")
# Code and deployment files that may name a setting: every top-level folder's Python files (tests are left
# out:
# they set what the code reads), and the files that deploy it.
NOT_SCANNED = {"tests", "data", "docs"}
DEPLOY_FILES = ["compose.yaml", "Dockerfile", ".ci/run"]
# Files that still read os.environ for a CRISISRISK_ setting, each with who moves it onto warehouse.settings.
STILL_DIRECT: dict[str, str] = {}


def _code_files() -> list[Path]:
    folders = [
        d
        for d in PROJECT_ROOT.iterdir()
        if d.is_dir() and not d.name.startswith(".") and d.name not in NOT_SCANNED
    ]
    files = [p for folder in folders for p in folder.rglob("*.py")]
    return files + [PROJECT_ROOT / f for f in DEPLOY_FILES if (PROJECT_ROOT / f).exists()]


def _readme_table() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings:start -->\n(.*?)<!-- settings:end -->", readme, re.S)
    assert found, "README.md has no <!-- settings:start --> ... <!-- settings:end --> section"
    return found.group(1)


def test_code_names_only_declared_settings():
    undeclared = {}
    for path in _code_files():
        for name in set(NAME.findall(path.read_text(encoding="utf-8"))) - set(settings.SETTINGS):
            undeclared.setdefault(name, []).append(str(path.relative_to(PROJECT_ROOT)))
    assert not undeclared, f"declare these in warehouse/settings.py: {undeclared}"


def test_every_declared_setting_is_in_the_readme_table():
    table = _readme_table()
    documented = set(re.findall(r"^\| `(CRISISRISK_[A-Z0-9_]+)` \|", table, re.M))
    assert not sorted(
        set(settings.SETTINGS) - documented
    ), f"undocumented in the README: {sorted(set(settings.SETTINGS) - documented)}"
    assert not sorted(
        documented - set(settings.SETTINGS)
    ), f"in the README but not declared: {sorted(documented - set(settings.SETTINGS))}"
    # the whole table, types and defaults too, is the generated one (`python -m warehouse.settings`)
    assert table == settings.markdown_table()


def _direct_reads(path: Path) -> list[str]:
    """CRISISRISK_ names read with os.environ.get / os.getenv / os.environ[...] in one file."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        target = None
        if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                target = node.args[0]
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) in ("os.environ", "environ")
            and not isinstance(node.ctx, ast.Store)
        ):
            target = node.slice
        if isinstance(target, ast.Constant) and str(target.value).startswith("CRISISRISK_"):
            names.append(target.value)
    return names


def test_code_reads_settings_through_the_module():
    direct = {}
    for path in _code_files():
        rel = str(path.relative_to(PROJECT_ROOT))
        if path.suffix != ".py" or rel == "warehouse/settings.py" or rel in STILL_DIRECT:
            continue
        if names := _direct_reads(path):
            direct[rel] = names
    assert not direct, f"read these with warehouse.settings.get: {direct}"


def test_the_direct_read_finder_finds_reads(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        'import os\nos.environ.get("CRISISRISK_A")\nos.environ["CRISISRISK_B"]\n'
        'os.getenv("CRISISRISK_C", "1")\nos.environ["CRISISRISK_D"] = "x"\n'
    )
    assert sorted(_direct_reads(probe)) == ["CRISISRISK_A", "CRISISRISK_B", "CRISISRISK_C"]  # not the write


def test_values_are_typed_and_blank_is_unset(monkeypatch):
    monkeypatch.setenv("CRISISRISK_SMTP_PORT", " 2525 ")
    monkeypatch.setenv("CRISISRISK_HTTPS", "Yes")
    monkeypatch.setenv("CRISISRISK_JOB_STALE_S", "0.5")
    monkeypatch.setenv("CRISISRISK_PUBLIC_READ", "  ")
    assert settings.get("CRISISRISK_SMTP_PORT") == 2525
    assert settings.get("CRISISRISK_HTTPS") is True
    assert settings.get("CRISISRISK_JOB_STALE_S") == 0.5
    assert settings.get("CRISISRISK_PUBLIC_READ") is False and not settings.is_set("CRISISRISK_PUBLIC_READ")
    monkeypatch.delenv("CRISISRISK_ALERTS_AUTO", raising=False)
    assert settings.get("CRISISRISK_ALERTS_AUTO") is True


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CRISISRISK_HTTPS", "treu", "must be true or false, not 'treu'"),
        ("CRISISRISK_TRUSTED_PROXY_HOPS", "two", "must be a whole number, not 'two'"),
        ("CRISISRISK_TRUSTED_PROXY_HOPS", "0", "must be at least 1"),
        ("CRISISRISK_MAX_UPLOAD_MB", "60MB", "must be a number"),
        ("CRISISRISK_SMTP_PASSWORD", "x", None),  # any text is a valid password
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    if says is None:
        assert settings.get(name) == value
        return
    with pytest.raises(SettingError, match=re.escape(f"{name} {says}")):
        settings.get(name)


def test_undeclared_names_are_refused():
    with pytest.raises(SettingError, match="CRISISRISK_NOPE is not a declared setting"):
        settings.get("CRISISRISK_NOPE")
    with pytest.raises(SettingError):
        settings.is_set("CRISISRISK_NOPE")


def test_one_model_dir_default_follows_the_data_dir(monkeypatch, tmp_path):
    from crisisrisk.cli import _registry_dir
    from models.registry import registry_dir
    from warehouse.config import database_url, model_dir

    monkeypatch.delenv("CRISISRISK_MODEL_DIR", raising=False)
    monkeypatch.delenv("CRISISRISK_DATABASE_URL", raising=False)
    monkeypatch.setenv("CRISISRISK_DATA_DIR", str(tmp_path))
    assert model_dir() == registry_dir() == _registry_dir() == tmp_path / "models"
    assert database_url() == f"sqlite:///{tmp_path / 'crisisrisk.sqlite'}"
    monkeypatch.setenv("CRISISRISK_MODEL_DIR", str(tmp_path / "elsewhere"))
    assert registry_dir() == _registry_dir() == tmp_path / "elsewhere"


def test_a_webhook_secret_is_read_only_from_a_crisisrisk_variable(monkeypatch):
    monkeypatch.setenv("CRISISRISK_HOOK_A", " s3cret ")
    monkeypatch.setenv("HOME_SECRET", "not ours")
    assert settings.named_secret("CRISISRISK_HOOK_A") == " s3cret "  # a secret is used as written
    assert settings.named_secret("HOME_SECRET") is None
    assert settings.named_secret("CRISISRISK_UNSET_HOOK") is None


def test_app_config_keys_left_to_the_environment_are_declared_settings():
    from dashboard.app import DEFAULT_CONFIG

    from_env = [key for key, value in DEFAULT_CONFIG.items() if value is None]
    assert from_env, "DEFAULT_CONFIG has no keys read from the environment"
    assert not [k for k in from_env if f"CRISISRISK_{k.upper()}" not in settings.SETTINGS]
