"""Command-line helpers shared by ``python -m jaxtricks.training`` and ``python -m jaxtricks.active``:
recipe names in ``--config``, overrides in any order, and bad input as a one-line error (exit status 2;
``--verbosity=1`` or ``JAXTRICKS_TRACEBACK=1`` shows the traceback too)."""

import os
import re
import sys
import textwrap
import time
from pathlib import Path

from absl import flags
from ml_collections import config_flags

from jaxtricks.training.config import recipe_path


HELP = ("--help", "-h", "-?", "--helpshort", "--helpfull", "--help_xml")


def usage_error(message: str, status: int = 2) -> None:
  """Inside an ``except`` block: ``error: message`` on stderr and exit ``status`` (or the traceback)."""
  if os.environ.get("JAXTRICKS_TRACEBACK") == "1" or "--verbosity=1" in sys.argv:
    raise
  print(f"error: {message}", file=sys.stderr)
  sys.exit(status)


LIST_WIDTH = 110


def list_line(name: str, summary: str, width: int = LIST_WIDTH) -> str:
  """One ``--list`` line: the recipe's name and its summary's first sentence, cut to ``width``
  characters (the whole summary is the recipe file's docstring)."""
  first = summary.split(". ")[0].rstrip(".")
  head = f"{name:28s} "
  return head + textwrap.shorten(first, width=max(width - len(head), 20), placeholder=" …")


def default_workdir(config_flag: str = "config") -> Path:
  """``./runs/<recipe>/<YYYYmmdd-HHMMSS>`` for the recipe of ``--config``: where a run goes without
  ``--workdir`` (kept, unlike a temporary directory; ``tensorboard --logdir runs`` shows them all)."""
  recipe = Path(config_flags.get_config_filename(flags.FLAGS[config_flag])).stem
  stamp = time.strftime("%Y%m%d-%H%M%S")
  workdir, n = Path("runs") / recipe / stamp, 1
  while workdir.exists():  # Two runs started within one second.
    workdir, n = Path("runs") / recipe / f"{stamp}-{n}", n + 1
  return workdir


def _joined(argv: list[str]) -> list[str]:
  """``--config SPEC`` (the space form) as ``--config=SPEC``, which ml_collections' ordering needs."""
  out, rest = argv[:1], iter(argv[1:])
  for arg in rest:
    out.append(f"--config={next(rest, '')}" if arg == "--config" else arg)
  return out


def _config_first(argv: list[str]) -> list[str]:
  """``argv`` with ``--config=SPEC`` before its ``--config.KEY`` overrides, and a recipe name in SPEC
  replaced by its file's path."""
  argv = _joined(argv)
  config = [a for a in argv[1:] if a.startswith("--config=")]
  rest = [a for a in argv[1:] if not a.startswith("--config=")]
  resolved = []
  for arg in config:
    spec, colon, extra = arg.removeprefix("--config=").partition(":")
    resolved.append(f"--config={recipe_path(spec)}{colon}{extra}")
  return argv[:1] + resolved + rest


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing; a bad flag, recipe, key or value is a one-line error (exit status 2)."""
  try:
    argv = sys.argv[:] = _config_first(argv)  # ml_collections checks the order in sys.argv.
    return flags.FLAGS(argv)
  except SystemExit as e:  # absl prints --help and exits with status 1; asking for help is no error.
    if e.code == 1 and any(a in HELP for a in argv[1:]):
      sys.exit(0)
    raise
  except (AttributeError, KeyError) as e:  # A locked config's "no such key", nested by ml_collections.
    while e.args and isinstance(e.args[0], BaseException):
      e = e.args[0]
    usage_error("no such key in --config: " + " ".join(str(e.args[0] if e.args else e).split()))
  except (flags.Error, ValueError) as e:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    cause = next((line for line in reversed(lines) if re.match(r"^\w+(Error|Exception):", line)), lines[-1])
    usage_error(f"{lines[0].removesuffix(':')}: {cause}" if cause != lines[0] else cause)
