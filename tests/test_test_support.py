"""The tests' own layout: fixtures in conftest.py, helpers in tests/support/, never imported from conftest."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent


def test_no_test_module_imports_conftest():
    importers = []
    for path in sorted(TESTS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) else [])
            if "conftest" in modules:
                importers.append(f"{path.relative_to(TESTS_DIR)}:{node.lineno}")

    assert importers == [], "import helpers from tests/support, not from conftest"
