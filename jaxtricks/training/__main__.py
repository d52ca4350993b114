"""Command line: ``python -m jaxtricks.training --config=NAME[:ARG] --workdir=DIR``.

``NAME`` is an installed recipe (``--list`` prints them) or a config file's path. Override any value
with ``--config.KEY=VALUE`` (a misspelt key is an error naming the closest one). Without ``--config``
the default recipe runs; without ``--workdir`` the run goes to ``./runs/<recipe>/<timestamp>``
(printed at the start and the end). Re-running with the same ``--workdir`` resumes from its last
checkpoint. Bad input ends the command with exit status 2 and a one-line message; ``--verbosity=1``
or ``JAXTRICKS_TRACEBACK=1`` shows the traceback too.
"""

import json
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from jaxtricks.training.cli import default_workdir, list_line, parse_flags, usage_error
from jaxtricks.training.config import recipe_path, recipes
from jaxtricks.training.trainer import fit

_CONFIG = config_flags.DEFINE_config_file("config", str(recipe_path("default")),
                                          "Recipe name or config file, with an optional :ARG.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (created; resumed if it has a checkpoint).")
_LIST = flags.DEFINE_bool("list", False, "Print every installed recipe with its summary, then exit.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _LIST.value:
    try:
      for name, summary in recipes().items():
        print(list_line(name, summary), flush=True)
    except BrokenPipeError:  # `--list | head`: the reader has what it wanted.
      os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return
  if not flags.FLAGS["verbosity"].present:  # Library INFO logs (orbax, ...) only on request.
    logging.set_verbosity(logging.WARNING)

  workdir = _WORKDIR.value or str(default_workdir())
  print(f"workdir: {workdir}")
  try:
    final, _ = fit(_CONFIG.value, workdir)
  except (ValueError, TypeError) as e:
    usage_error(str(e))
  except FloatingPointError as e:  # The NaN stop: the run diverged (exit status 1).
    usage_error(str(e), status=1)
  print("final metrics:")
  for key, value in final.items():
    if key not in ("artifacts", "workdir"):
      print(f"  {key}: {json.dumps(value)}")
  print(f"workdir: {final['workdir']}")
  print(f"artifacts: {', '.join(final['artifacts'])}")


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
