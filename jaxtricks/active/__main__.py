"""Command line: ``python -m jaxtricks.active --config=active_digits[:smoke] --workdir=DIR``.

Runs every strategy × seed of ``config.active``; re-running with the same ``--workdir`` resumes after
the last finished round. Writes ``metrics.jsonl``, ``results.md``, ``learning_curves.png`` and
``penalty_matrix.png``; ``--record=FILE`` also writes the per-seed accuracies and labelled counts per
class, one round per line without the labelled indices (``docs/data/active.jsonl``, read by
``jaxtricks.experiments.claims``).
"""

import json
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

from jaxtricks.active.loop import report, run
from jaxtricks.paths import local_path
from jaxtricks.training.cli import default_workdir, parse_flags, usage_error
from jaxtricks.training.config import recipe_path

_CONFIG = config_flags.DEFINE_config_file("config", str(recipe_path("active_digits")),
                                          "Active-learning recipe name or config file, with :ARG.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (created; resumed if it has records).")
_RECORD = flags.DEFINE_string("record", None, "Also write each round's accuracy (no indices) here.")
RECORDED = ("strategy", "seed", "round", "num_labelled", "test_accuracy", "labelled_per_class",
            "fewest_labelled")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)

  workdir = _WORKDIR.value or str(default_workdir())
  print(f"workdir: {workdir}")
  try:
    workdir = local_path(workdir, "workdir")  # A URL is refused (pathlib would make it a local folder).
    records = run(_CONFIG.value, workdir)
  except (ValueError, TypeError) as e:
    usage_error(str(e))
  print(report(records, workdir))
  if _RECORD.value:
    Path(_RECORD.value).parent.mkdir(parents=True, exist_ok=True)
    Path(_RECORD.value).write_text("".join(json.dumps({k: r[k] for k in RECORDED}, sort_keys=True) + "\n"
                                           for r in records))
  print(f"artifacts: {', '.join(sorted(p.name for p in workdir.iterdir()))}")


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
