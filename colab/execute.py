"""Runs the notebooks top to bottom and, with ``--save``, commits their outputs back into ``colab/``
(so a reader on GitHub sees every printout and plot of the CPU settings).

  python colab/execute.py --save                 # every notebook
  python colab/execute.py --save 02_imbalance    # one

Each runs from a copy in a temporary directory (it reads nothing from the repository: recipes by
name, data embedded or generated), in a kernel that sees the machine as a user's would: the test
suite's XLA settings are not passed on. ``tests/test_notebooks.py`` runs them the same way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

COLAB = Path(__file__).resolve().parent
SUITE_ONLY = ("XLA_FLAGS", "JAX_DISABLE_MOST_OPTIMIZATIONS")  # The test suite's, not a user's.


def execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
  """``path`` executed from a copy in ``workdir``; raises at the first failing cell."""
  copy = workdir / path.name
  shutil.copy(path, copy)
  notebook = nbformat.read(copy, as_version=4)
  saved = {key: os.environ.pop(key) for key in SUITE_ONLY if key in os.environ}
  try:
    NotebookClient(notebook, timeout=1800, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(workdir)}}).execute()
  finally:
    os.environ.update(saved)
  return notebook


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("names", nargs="*", help="notebook stems (default: all)")
  parser.add_argument("--save", action="store_true", help="write the outputs into colab/")
  args = parser.parse_args()
  paths = sorted(COLAB.glob("*.ipynb"))
  if args.names:
    paths = [p for p in paths if p.stem in args.names]
    if len(paths) != len(args.names):
      parser.error(f"names must be among {[p.stem for p in sorted(COLAB.glob('*.ipynb'))]}")
  for path in paths:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
      notebook = execute(path, Path(workdir))
    if args.save:
      nbformat.write(notebook, path)
    print(f"{path.name}: ran in {time.perf_counter() - start:.0f} s{' and saved' if args.save else ''}",
          flush=True)


if __name__ == "__main__":
  main()
