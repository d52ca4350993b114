"""tests/golden/MANIFEST.txt lists exactly the golden files (each parity test takes its cases from it,
tests/conftest.py: golden_cases), so a deleted or unlisted case fails by name instead of vanishing."""

from tests.conftest import GOLDEN, golden_manifest


def test_the_manifest_lists_exactly_the_golden_files():
  on_disk = {f"{p.parent.name}/{p.name}" for p in GOLDEN.glob("*/*.npz")}
  listed = golden_manifest()
  assert len(listed) == len(set(listed)), "tests/golden/MANIFEST.txt repeats a line"
  assert sorted(set(listed) - on_disk) == [], "listed in MANIFEST.txt but missing"
  assert sorted(on_disk - set(listed)) == [], "on disk but not listed in MANIFEST.txt"
