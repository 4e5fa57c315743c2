"""cms/server.py rests on granian's private internals (CmsServer overrides MPServer's private
methods): it is pinned to the granian it was written for, where that is checked."""

from __future__ import annotations

import configparser
import importlib.metadata
import re
import sys

import pytest
from test_startup import run_bounded, serve_command, server_environment

from cms import server as cms_server
from cms.db import ROOT


def pinned(package: str) -> str:
    requirements = configparser.ConfigParser()
    requirements.read(ROOT / "setup.cfg")
    for line in requirements["options"]["install_requires"].splitlines():
        match = re.fullmatch(rf"{package}==(\S+)", line.strip())
        if match:
            return match.group(1)
    raise AssertionError(f"{package} is not pinned in setup.cfg")


def test_the_server_is_written_for_the_granian_setup_cfg_pins_and_that_is_installed():
    assert cms_server.GRANIAN_VERSION == pinned("granian") == importlib.metadata.version("granian")
    cms_server.check_granian_version()


def test_another_granian_is_refused_naming_the_expected_version():
    with pytest.raises(cms_server.CannotStart) as refused:
        cms_server.check_granian_version("2.9.0")
    assert str(refused.value) == (
        f"granian 2.9.0 is installed but cms/server.py is written for granian {cms_server.GRANIAN_VERSION} "
        f"(it uses granian's private internals): install granian=={cms_server.GRANIAN_VERSION}")


PRETEND_GRANIAN = """
import importlib.metadata, runpy, sys
real = importlib.metadata.version
importlib.metadata.version = lambda name: "2.9.0" if name == "granian" else real(name)
sys.argv = ["cms.server", *sys.argv[1:]]
runpy.run_module("cms.server", run_name="__main__")
"""


def test_the_server_does_not_start_on_another_granian(database_url):
    env = server_environment(database_url)
    command = [sys.executable, "-c", PRETEND_GRANIAN, *serve_command(env)[3:]]
    result = run_bounded(command, env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"cms: cannot start: granian 2.9.0 is installed but cms/server.py is written for granian "
        f"{cms_server.GRANIAN_VERSION} (it uses granian's private internals): install "
        f"granian=={cms_server.GRANIAN_VERSION}"]
