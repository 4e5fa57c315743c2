"""The README stays a newcomer's page, and the links of the README and docs/ lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
LINK = re.compile(r"\]\(([^)\s#]+)(#[^)\s]*)?\)")


def broken_links(page: Path) -> list[str]:
    """The relative link targets of a Markdown page that name no file or folder of the checkout."""
    targets = (match.group(1) for match in LINK.finditer(page.read_text()))
    return [target for target in targets
            if not re.match(r"[a-z]+:", target) and not (page.parent / target).exists()]


def test_the_readme_fits_a_newcomer():
    # What it is, the two commands, set-up, settings, routes in brief, links: the rest is in docs/.
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_of_the_checkout(page):
    assert broken_links(page) == []


def test_a_link_to_a_missing_file_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[there](page.md) [gone](missing.md#part) [web](https://example.com/x.md)\n")
    assert broken_links(page) == ["missing.md"]
