"""Build hook: a wheel carries the files the repository keeps at its top level.

`sql/migrations`, `sql/queries`, `sql/demo` and `seed.sql` (where DBAs find them) stay there;
building copies them into the package as `cms/_data/` (same layout), where cms/resources.py looks
first. (The server's settings are code, cms/server.py, and need no copy.) Everything else is declared in setup.cfg.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PACKAGED = ("sql/migrations", "sql/queries", "sql/demo", "seed.sql")


class BuildPyWithSQL(build_py):
    """build_py, then copy the SQL files into the built package (never into the checkout)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the repository's own files
        target = Path(self.build_lib) / "cms" / "_data"
        # A build directory kept from an earlier build would still hold files renamed or removed since.
        shutil.rmtree(target, ignore_errors=True)
        for name in PACKAGED:
            source = HERE / name
            if source.is_dir():
                for path in sorted(source.glob("*.sql")):
                    self._copy(path, target / name / path.name)
            else:
                self._copy(source, target / name)

    def _copy(self, source: Path, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildPyWithSQL})
