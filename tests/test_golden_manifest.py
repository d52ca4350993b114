"""tests/golden/MANIFEST.txt lists exactly the golden files (each parity test takes its cases from it,
tests/conftest.py: golden_cases), so a deleted or unlisted case fails by name instead of vanishing;
and each folder's README describes only the cases the folder holds."""

import fnmatch
import re

import pytest

from tests.conftest import GOLDEN, golden_manifest


def test_the_manifest_lists_exactly_the_golden_files():
  on_disk = {f"{p.parent.name}/{p.name}" for p in GOLDEN.glob("*/*.npz")}
  listed = golden_manifest()
  assert len(listed) == len(set(listed)), "tests/golden/MANIFEST.txt repeats a line"
  assert sorted(set(listed) - on_disk) == [], "listed in MANIFEST.txt but missing"
  assert sorted(on_disk - set(listed)) == [], "on disk but not listed in MANIFEST.txt"


def _named_cases(readme):
  """The ``.npz`` names a golden README mentions: exact names, and ``*`` patterns."""
  return set(re.findall(r"(?<![\w*<>{}.,-])[\w*]+\.npz", readme.read_text()))


@pytest.mark.parametrize("folder", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_each_golden_readme_names_only_cases_that_exist(folder):
  files = [p.name for p in (GOLDEN / folder).glob("*.npz")]
  absent = sorted(name for name in _named_cases(GOLDEN / folder / "README.md")
                  if not fnmatch.filter(files, name))
  assert absent == [], f"tests/golden/{folder}/README.md names cases that are not in the folder"
