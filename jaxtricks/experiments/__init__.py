"""Reproduction runs: several configs × seeds, a results table and a plot (``python -m jaxtricks.experiments.NAME``)."""

import gc
import json
from pathlib import Path

import jax

from jaxtricks.training import fit


def save_results(out: Path, results, table: str) -> None:
  """``results.json`` (the raw results) and ``results.md`` (the table) in ``out``; prints the table."""
  (out / "results.json").write_text(json.dumps(results, indent=1))
  (out / "results.md").write_text(table)
  print(table)


def fit_and_release(config, workdir: Path, **kwargs) -> dict:
  """``fit(config, workdir)``'s final metrics, then JAX's compiled programs dropped: each XLA:CPU
  executable keeps memory mappings of its own, and dozens of runs in one process exhaust them."""
  final, _ = fit(config, workdir, **kwargs)
  jax.clear_caches()
  gc.collect()
  return final
