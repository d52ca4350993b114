"""Every notebook in ``colab/`` runs top to bottom from a copy outside the repository (so it reads
nothing from it: recipes by name, data embedded or generated), in a kernel that sees the runtime a
user's would: the suite's XLA settings (8 forced CPU devices, fewer optimisations; tests/conftest.py)
are not passed on (``colab/execute.py``, which also saves the outputs that are committed)."""

import configparser
import importlib.util
import re

import nbformat
import pytest

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "colab").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("colab_execute", REPO / "colab" / "execute.py")
EXECUTE = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(EXECUTE)


def test_there_is_one_notebook_per_family():
  assert len(NOTEBOOKS) == 7


def _repository_url() -> str:
  setup = configparser.ConfigParser()
  setup.read(REPO / "setup.cfg")
  return setup["metadata"]["url"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_installs_from_the_repository_and_keeps_its_runs(path):
  """One install cell, the same in every notebook: a JAXTRICKS_SOURCE form field whose default is
  setup.cfg's url, the accelerator's JAX; a TPU runtime asked for; runs in RUNS (./runs or Drive),
  shown by TensorBoard; links that work inside Colab (absolute, to files that exist)."""
  url = _repository_url()
  notebook = nbformat.read(path, as_version=4)
  first = nbformat.read(NOTEBOOKS[0], as_version=4).cells[1].source.replace(NOTEBOOKS[0].stem, path.stem)
  assert notebook.metadata["accelerator"] == "TPU"
  install = notebook.cells[1].source
  assert install == first, "every notebook's install cell is the same"
  assert f'JAXTRICKS_SOURCE = "git+{url}"  #@param {{type:"string"}}' in install
  assert 'jax_for = {"tpu": ["jax[tpu]"], "gpu": ["jax[cuda12]"]' in install
  code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
  assert "%tensorboard --logdir {RUNS}" in code and "tempfile" not in code
  markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
  for link in re.findall(r"\]\(([^)\s]+)\)", markdown):
    assert link.startswith(f"{url}/blob/main/"), f"{path.name}: {link} does not open from Colab"
    assert (REPO / link.removeprefix(f"{url}/blob/main/").split("#")[0]).exists(), link


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
def test_every_code_cell_is_committed_with_its_output(path):
  """A reader on GitHub sees what each cell printed or plotted (``python colab/execute.py --save``)."""
  notebook = nbformat.read(path, as_version=4)
  silent = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and not cell.outputs]
  assert silent == [], f"code cells {silent} of {path.name} have no committed output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_committed_outputs_name_the_backend_that_produced_them(path):
  """The notebooks ask for a TPU runtime; their committed outputs come from a CPU, and say so first."""
  notebook = nbformat.read(path, as_version=4)
  printed = "".join(out.get("text", "") for out in notebook.cells[1].outputs)
  assert printed.startswith("backend: cpu, "), printed[:200]
  assert "come from a CPU backend" in notebook.cells[0].source
  row = next(line for line in (REPO / "README.md").read_text().splitlines() if f"| `{path.stem}` |" in line)
  assert row.endswith("; CPU |"), row


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_a_copy_outside_the_repository(path, tmp_path):
  notebook = EXECUTE.execute(path, tmp_path)  # Raises at the first failing cell.
  errors = [out for cell in notebook.cells for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]
  assert not errors, errors
