"""Every relative link of the README and the docs pages points at a file of the repository."""

import re

import pytest

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
  links = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
  local = [link.split("#")[0] for link in links if not re.match(r"[a-z]+://", link) and link[0] != "#"]
  missing = [link for link in local if not (page.parent / link).exists()]
  assert not missing, f"{page.name} links to missing files: {missing}"
