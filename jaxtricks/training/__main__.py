"""Command line: ``python -m jaxtricks.training --config=configs/NAME.py[:ARG] --workdir=DIR``.

Override any value with ``--config.KEY=VALUE`` (a misspelt key is an error naming the closest one).
Without ``--config`` the default recipe (``configs/default.py``) runs; without ``--workdir`` a fresh
directory is made. Re-running with the same ``--workdir`` resumes from its last checkpoint.
"""

import json
import tempfile
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

from jaxtricks.training.config import parse_flags

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "default.py"

_CONFIG = config_flags.DEFINE_config_file("config", str(DEFAULT_CONFIG), "Training config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (created; resumed if it has a checkpoint).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:  # Library INFO logs (orbax, ...) only on request.
    logging.set_verbosity(logging.WARNING)
  from jaxtricks.training.trainer import fit  # After flag parsing: --help stays fast.

  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix="jaxtricks-")
  print(f"workdir: {workdir}")
  final, _ = fit(_CONFIG.value, workdir)
  print("final metrics:")
  for key, value in final.items():
    if key not in ("artifacts", "workdir"):
      print(f"  {key}: {json.dumps(value)}")
  print(f"workdir: {final['workdir']}")
  print(f"artifacts: {', '.join(final['artifacts'])}")


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
