"""The layers point one way (import-linter's contracts in pyproject.toml),
and vendor clients stay pure protocol: no database."""

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "kyc_portal.test_settings"}, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_vendor_clients_never_reach_the_database():
    # import-linter cannot forbid a subpackage of an external package: read the imports.
    vendor_modules = sorted((ROOT / "verification" / "vendors").glob("*.py"))
    assert len(vendor_modules) >= 5
    for path in vendor_modules:
        reaching = {name for name in imported_modules(path) if name == "django.db" or name.startswith("django.db.")}
        assert not reaching, f"{path.name} imports {reaching}"
