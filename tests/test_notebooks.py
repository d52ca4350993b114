"""Every notebook in ``colab/`` runs top to bottom from a copy outside the repository (so it reads
nothing from it: recipes by name, data embedded or generated), in a kernel that sees the runtime a
user's would: the suite's XLA settings (8 forced CPU devices, fewer optimisations; tests/conftest.py)
are not passed on."""

import re
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "colab").glob("*.ipynb"))
SUITE_ONLY = ("XLA_FLAGS", "JAX_DISABLE_MOST_OPTIMIZATIONS")


def test_there_is_one_notebook_per_family():
  assert len(NOTEBOOKS) == 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_that_trains_or_shows_a_result_checks_it(path):
  """A cell that trains (``fit``, ``run``) or computes what it plots ends in assertions on it, so a
  notebook that trains nothing, or shows a claim the other way round, fails when it runs."""
  notebook = nbformat.read(path, as_version=4)
  code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
  unchecked = [i for i, source in enumerate(code)
               if re.search(r"(?<![\w.])(fit|run)\(|plt\.", source) and "assert " not in source]
  assert unchecked == [], f"code cells {unchecked} of {path.name} assert nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_a_copy_outside_the_repository(path, tmp_path, monkeypatch):
  copy = tmp_path / path.name
  shutil.copy(path, copy)
  for key in SUITE_ONLY:
    monkeypatch.delenv(key, raising=False)
  notebook = nbformat.read(copy, as_version=4)
  NotebookClient(notebook, timeout=1800, kernel_name="python3",  # Raises at the first failing cell.
                 resources={"metadata": {"path": str(tmp_path)}}).execute()
  errors = [out for cell in notebook.cells for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]
  assert not errors, errors
