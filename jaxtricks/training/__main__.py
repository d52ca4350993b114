"""Command line: ``python -m jaxtricks.training --config=NAME[:ARG] --workdir=DIR``.

``NAME`` is an installed recipe (``--list`` prints them) or a config file's path. Override any value
with ``--config.KEY=VALUE`` (a misspelt key is an error naming the closest one). Without ``--config``
the default recipe runs; without ``--workdir`` the run goes to ``./runs/<recipe>/<timestamp>``
(printed at the start and the end). Re-running with the same ``--workdir`` resumes from its last
checkpoint. Bad input ends the command with exit status 2 and a one-line message; ``--verbosity=1``
or ``JAXTRICKS_TRACEBACK=1`` shows the traceback too.

``--workdir=RUN --eval_only`` evaluates a finished run again (its own config; ``--which=best`` the
checkpoint ``keep_best`` kept), on its test split or on what ``--config.dataset.*`` /
``--config.eval_pgd.*`` overrides say, prints the metrics and writes only ``RUN/eval_<time>.json``.
"""

import json
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from jaxtricks.inference import WHICH, evaluate
from jaxtricks.training.cli import default_workdir, list_line, parse_flags, usage_error
from jaxtricks.training.config import recipe_path, recipes
from jaxtricks.training.trainer import fit

_CONFIG = config_flags.DEFINE_config_file("config", str(recipe_path("default")),
                                          "Recipe name or config file, with an optional :ARG.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (created; resumed if it has a checkpoint).")
_LIST = flags.DEFINE_bool("list", False, "Print every installed recipe with its summary, then exit.")
_EVAL_ONLY = flags.DEFINE_bool("eval_only", False, "Evaluate the finished run in --workdir again (its "
                               "config, --config.dataset.* / eval_pgd.* overrides), print the metrics, "
                               "write WORKDIR/eval_<time>.json; train nothing.")
_WHICH = flags.DEFINE_enum("which", "last", list(WHICH), "--eval_only: the last checkpoint, or the best "
                           "one (a run with keep_best).")


def eval_only() -> dict:
  """``--eval_only``: the run's config, with the ``--config.KEY`` overrides given (ml_collections parses
  them against the default recipe, which has every shared block)."""
  if not _WORKDIR.value:
    raise ValueError("--eval_only needs --workdir=RUN, the run to evaluate")
  if any(a.startswith("--config=") for a in sys.argv[1:]):
    raise ValueError("--eval_only evaluates a run with its own config: give --workdir and overrides "
                     "(--config.dataset.KEY=...), not --config=NAME")
  overrides = config_flags.get_override_values(flags.FLAGS["config"])
  return evaluate(_WORKDIR.value, which=_WHICH.value, overrides=overrides)


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

  if _EVAL_ONLY.value:
    try:
      metrics = eval_only()
    except (ValueError, TypeError) as e:
      usage_error(str(e))
    print(f"evaluated: {_WORKDIR.value} ({metrics['which']} checkpoint, step {metrics['step']})")
    for key, value in metrics.items():
      if key.startswith("eval/"):
        print(f"  {key}: {json.dumps(value)}")
    return
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
