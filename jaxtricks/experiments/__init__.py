"""Reproduction runs: several configs × seeds, a results table and a plot (``python -m jaxtricks.experiments.NAME``)."""

import json
from pathlib import Path


def save_results(out: Path, results, table: str) -> None:
  """``results.json`` (the raw results) and ``results.md`` (the table) in ``out``; prints the table."""
  (out / "results.json").write_text(json.dumps(results, indent=1))
  (out / "results.md").write_text(table)
  print(table)
