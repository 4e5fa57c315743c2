"""The layers point one way (docs/architecture.md): a test over the import graph of cms/.

api (HTTP) → services (rules, transactions) → repositories (named queries) → db.
Schemas depend on marshmallow, their own fields and cms.errors only; services know nothing of
Flask; blueprints import neither repositories nor other blueprints.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

import pytest

CMS = Path(__file__).resolve().parent.parent / "cms"
FLASK = ("flask", "flask_login", "flask_cors", "werkzeug")
# Modules of cms/api/ that are not blueprints: request reading, request-scoped context, shared answers.
API_HELPERS = {"cms.api", "cms.api.http", "cms.api.context", "cms.api.responses", "cms.api.errors",
               "cms.api.declare", "cms.api.cors", "cms.api.blueprints",
               "cms.api.envelope", "cms.api.car_detail_lane", "cms.api.revalidation",
               "cms.api.login", "cms.api.tokens", "cms.api.openapi_document", "cms.api.idempotency"}


# Every module of cms/ in one layer, top to bottom; a module imports its own layer or those below.
# (The rules in `violations` say more within and between some layers.)
LAYERS = (
    ("entry points", ("cms", "cms.wsgi", "cms.server", "cms.asgi", "cms.cli")),
    ("http", ("cms.api", "cms.hosts", "cms.raw_request")),
    ("operations", ("cms.operations",)),
    ("services", ("cms.services",)),
    ("schemas", ("cms.schemas",)),
    ("repositories", ("cms.repositories",)),
    ("database", ("cms.db", "cms.resources")),
    ("foundation", ("cms.errors", "cms.config", "cms.logging_setup", "cms.metrics")),
)


def layer_of(name: str) -> int | None:
    """The index in LAYERS of the module `name` (or of the module an imported name belongs to)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        for index, (_, prefixes) in enumerate(LAYERS):
            if candidate in prefixes:
                return index
        parts.pop()
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(CMS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module the source imports (relative imports resolved), including `from x import y` as x.y."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def under(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def violations(module: str, imported: set[str], blueprints: set[str]) -> list[str]:
    """The arrows of `module` that go the wrong way."""
    wrong = []
    imported = imported - {"cms"}  # `from cms import errors` names the package only to reach cms.errors
    own = layer_of(module)
    if own is not None:
        upward = {name for name in imported if under(name, "cms") and (layer_of(name) or 0) < own}
        wrong.extend(f"{module} imports {name}: the {LAYERS[layer_of(name) or 0][0]} layer is above "
                     f"{LAYERS[own][0]}" for name in sorted(upward))

    def refuse(names, why):
        wrong.extend(f"{module} imports {name}: {why}" for name in sorted(names))

    if under(module, "cms.schemas"):
        ours = {name for name in imported if under(name, "cms") and not under(name, "cms.schemas", "cms.errors")}
        foreign = {name for name in imported if not under(name, "cms", "marshmallow")
                   and name.split(".")[0] not in sys.stdlib_module_names and name != "__future__"}
        refuse(ours | foreign, "schemas depend on marshmallow and their own fields only")
    if under(module, "cms.services"):
        refuse({name for name in imported if under(name, *FLASK, "cms.api", "cms.schemas")},
               "services take what they need as arguments (no Flask, no HTTP, no presentation)")
    if under(module, "cms.repositories"):
        refuse({name for name in imported if under(name, *FLASK, "cms.api", "cms.services",
                                                    "cms.schemas")},
               "repositories run queries: nothing above them")
    if module == "cms.errors":
        refuse({name for name in imported if under(name, "cms", *FLASK)}, "errors are a leaf every layer raises")
    if module in blueprints:
        refuse({name for name in imported if under(name, "cms.repositories")},
               "a blueprint calls one service function, never a repository")
        refuse({name for name in imported if name in blueprints and name != module},
               "a blueprint never imports another blueprint")
    return wrong


def cms_modules() -> dict[str, tuple[Path, set[str]]]:
    modules = {}
    for path in sorted(CMS.rglob("*.py")):
        name = module_name(path)
        modules[name] = (path, imports_of(path.read_text(), name, is_package=path.name == "__init__.py"))
    return modules


def blueprint_modules(modules) -> set[str]:
    return {name for name in modules if under(name, "cms.api") and name not in API_HELPERS}


def test_every_import_of_cms_points_down_the_layers():
    modules = cms_modules()
    blueprints = blueprint_modules(modules)
    wrong = [line for name, (_, imported) in modules.items() for line in violations(name, imported, blueprints)]
    assert wrong == []


def test_every_module_of_cms_has_a_layer():
    unplaced = [name for name in cms_modules() if layer_of(name) is None]
    assert unplaced == [], "place each module in LAYERS (tests/test_architecture.py)"


def test_every_module_of_cms_api_is_a_blueprint_or_a_known_helper():
    for name, (path, _) in cms_modules().items():
        if under(name, "cms.api") and name not in API_HELPERS:
            assert "Blueprint(" in path.read_text(), f"{name}: a new helper module? add it to API_HELPERS"


@pytest.mark.parametrize(("module", "source", "complaint"), [
    ("cms.schemas.cars", "from cms.services import settings", "schemas depend on marshmallow"),
    ("cms.schemas.users", "from flask_login import current_user", "schemas depend on marshmallow"),
    ("cms.services.cars", "from flask import request", "services take what they need"),
    ("cms.services.cars", "from cms.schemas.cars import CarSchema", "services take what they need"),
    ("cms.repositories.cars", "from ..services import settings", "repositories run queries"),
    ("cms.api.images", "from cms.api.cars import ensure_can_manage", "never imports another blueprint"),
    ("cms.api.images", "from cms.repositories import images", "never a repository"),
    ("cms.errors", "from flask import jsonify", "errors are a leaf"),
    ("cms.api.openapi_document", "from cms import create_app", "the entry points layer is above http"),
    ("cms.metrics", "from cms.db import connect", "the database layer is above foundation"),
    ("cms.db.pool", "from cms.services import settings", "the services layer is above database"),
    ("cms.config", "from cms.db import connect", "the database layer is above foundation"),
    ("cms.operations.backup", "from cms.api.http import load_json", "the http layer is above operations"),
])
def test_an_arrow_the_wrong_way_is_reported(module, source, complaint):
    imported = imports_of(source, module)
    wrong = violations(module, imported, blueprints={"cms.api.images", "cms.api.cars"})
    assert any(complaint in line for line in wrong), wrong


def test_allowed_arrows_are_not_reported():
    source = "from cms.services import cars\nfrom cms.schemas.cars import CarSchema\nfrom cms.api.http import load_json"
    assert violations("cms.api.cars", imports_of(source, "cms.api.cars"), {"cms.api.cars", "cms.api.images"}) == []
    source = "from cms.repositories import cars\nfrom cms.services.access import Caller\nimport psycopg"
    assert violations("cms.services.cars", imports_of(source, "cms.services.cars"), set()) == []
    source = "import datetime\nfrom marshmallow import fields\nfrom .fields import Money\nfrom cms import errors"
    assert violations("cms.schemas.cars", imports_of(source, "cms.schemas.cars"), set()) == []


ISSUE_CITATION = re.compile(r"\b(issue|task|finding)s?\s*#?\s*\d+|\(#\d+\)|\bthe (security )?review found",
                            re.IGNORECASE)


def issue_citations(source: str) -> list[str]:
    """Comments and docstrings of `source` that cite an issue instead of saying what is true."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.STRING) and ISSUE_CITATION.search(token.string):
            found.append(f"line {token.start[0]}: {token.string.strip()[:80]}")
    return found


def test_no_comment_or_docstring_of_cms_cites_an_issue():
    # The history of a decision lives in docs/decisions.md and bench/results/; the code says why.
    cited = {str(path.relative_to(CMS.parent)): found for path in sorted(CMS.rglob("*.py"))
             if (found := issue_citations(path.read_text()))}
    assert cited == {}


@pytest.mark.parametrize("source", ['# Kept short (issue 13).\n', '"""The security review found this."""\n',
                                    'x = 1  # see issue #14\n', '"""Fixed in (#21)."""\n'])
def test_an_issue_citation_is_found(source):
    assert issue_citations(source)


def test_issued_tokens_are_not_issue_citations():
    assert issue_citations('"""A token issued at login, valid for 7 days; it issues one query."""\n') == []
