"""Where the service's SQL files are, in a checkout and in an installed wheel.

The repository keeps `sql/migrations`, `sql/queries`, `sql/demo` and `seed.sql` at its top
level, where DBAs look for them. An installed package has no repository around it, so building
a wheel copies those files into the package as `cms/_data/` with the same layout (setup.py);
nothing is committed twice. A checkout (and an editable install) reads the repository's own files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGED_ROOT = Path(str(files("cms"))) / "_data"
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent

# The folder holding sql/ and seed.sql: the wheel's copy when there is one,
# else the repository.
ROOT = PACKAGED_ROOT if PACKAGED_ROOT.is_dir() else REPOSITORY_ROOT
MIGRATIONS_DIR = ROOT / "sql" / "migrations"
QUERIES_DIR = ROOT / "sql" / "queries"
DEMO_DIR = ROOT / "sql" / "demo"
SEED_FILE = ROOT / "seed.sql"
