"""What every reproduction script shares: one command line, one mean ± std, one report writer, and
the per-seed rows as JSON Lines (``--record``) that ``python -m jaxtricks.experiments.claims`` turns
into the tables of ``docs/results.md``."""

from __future__ import annotations

import copy
import dataclasses
import gc
import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import numpy as np
from absl import app, flags, logging

from jaxtricks.paths import as_path
from jaxtricks.training import fit


@dataclasses.dataclass(frozen=True)
class Option:
  """A script's own flag: its default (its type sets the flag's: int, float, bool, str, list) and
  help; a list's items, or a string, must be one of ``choices`` when given."""
  default: Any
  help: str
  choices: Sequence[str] | None = None


SCRIPT_FLAGS = ("seeds", "out", "smoke", "record")  # Every script's own flags (run_script).
_DEFINERS = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
             str: flags.DEFINE_string, list: flags.DEFINE_list, tuple: flags.DEFINE_list}


def run_script(name: str, main: Callable[[types.SimpleNamespace, Path], None], *, seeds: int = 3,
               **options: Option) -> None:
  """Runs ``main(args, out)`` as ``python -m jaxtricks.experiments.NAME``: ``--seeds``, ``--out``
  (default ``results/<name>``, created), ``--smoke`` (the configs' :smoke variants), ``--record``
  (copy the per-seed ``results.jsonl`` there when done) and ``options``.

  Call it under ``if __name__ == "__main__":`` only: the flags are defined when the script runs, so
  two experiment modules can be imported side by side."""
  options = {"seeds": Option(seeds, "Seeds (0, 1, ...) per setting."),  # SCRIPT_FLAGS, then options.
             "out": Option(f"results/{name}", "Output directory (each run keeps its workdir there, so "
                           "an interrupted sweep resumes)."),
             "smoke": Option(False, "Use the configs' :smoke variants (a quick check)."),
             "record": Option("", "Also copy the per-seed rows (results.jsonl) to this file, e.g. "
                              f"docs/data/{name}.jsonl, the input of jaxtricks.experiments.claims."),
             **options}
  holders = {key: _DEFINERS[type(o.default)](
      key, list(o.default) if isinstance(o.default, tuple) else o.default, o.help,
      module_name=sys.argv[0]) for key, o in options.items()}  # The script's own flags in --help.

  def entry(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # Checkpointing logs every save at INFO.
    args = types.SimpleNamespace(**{key: holder.value for key, holder in holders.items()})
    given_flags = [a.split("=")[0] for a in sys.argv[1:]]
    for key, option in options.items():
      if isinstance(option.default, (list, tuple)) and given_flags.count(f"--{key}") > 1:
        raise app.UsageError(f"--{key} was given more than once (only the last would count); give one "
                             f"comma-separated list: --{key}=a,b")
      given = getattr(args, key)
      unknown = [v for v in (given if isinstance(given, list) else [given])
                 if option.choices is not None and v not in option.choices]
      if unknown:
        raise app.UsageError(f"--{key}: unknown {unknown}; allowed: {list(option.choices)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    main(args, out)
    if args.record:
      if not (out / "results.jsonl").exists():
        raise app.UsageError(f"--record: {name} writes no per-seed rows (results.jsonl)")
      Path(args.record).parent.mkdir(parents=True, exist_ok=True)
      shutil.copyfile(out / "results.jsonl", args.record)

  app.run(entry)


def mean_std(values: Sequence[float], *, scale: float = 100.0, digits: int = 1,
             signed: bool = False) -> str:
  """``mean ± sample std`` (ddof = 1) of ``values × scale``; one value has no spread: the mean alone.
  ``signed`` writes the mean's sign (paired differences)."""
  v = scale * np.asarray(values, dtype=np.float64)
  mean = f"{v.mean():{'+' if signed else ''}.{digits}f}"
  return mean if len(v) < 2 else f"{mean} ± {v.std(ddof=1):.{digits}f}"


def sample_std(values: Sequence[float]) -> float:
  """The sample standard deviation (ddof = 1); 0 for a single value (an error bar of nothing)."""
  return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def save_figure(fig, path: Path, dpi: int = 100) -> None:
  """``fig`` laid out tightly and written to ``path``."""
  fig.tight_layout()
  fig.savefig(path, dpi=dpi)


def save_image_rows(panels: dict[str, Any], path: Path) -> None:
  """One titled row per ``panels`` item (``[n, H, W, 1]`` images in [0, 1], clipped), written to
  ``path``."""
  from matplotlib.figure import Figure

  count = len(next(iter(panels.values())))
  fig = Figure(figsize=(1.1 * count, 1.2 * len(panels)))
  for row, (title, images) in zip(fig.subplots(len(panels), count), panels.items()):
    row[0].set_title(title, fontsize=8, loc="left")
    for ax, image in zip(row, images):
      ax.imshow(np.clip(image[..., 0], 0, 1), cmap="gray", vmin=0, vmax=1)
      ax.axis("off")
  save_figure(fig, path, dpi=100)


def run_parts(parts: dict[str, Callable[[int, Path, bool], list]], args: types.SimpleNamespace,
              out: Path) -> list:
  """The rows of every part named in ``args.parts``: ``parts[name](args.seeds, out, args.smoke)``."""
  return [row for name in args.parts for row in parts[name](args.seeds, out, args.smoke)]


def save_results(out: Path, rows: list[dict], table: str, *, echo: bool = True) -> None:
  """The per-seed ``rows`` as JSON Lines (``results.jsonl``, what ``--record`` copies) and ``table``
  (``results.md``) in ``out``; prints the table if ``echo``."""
  (out / "results.jsonl").write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
  (out / "results.md").write_text(table)
  if echo:
    print(table)


def finished_metrics(config, workdir: Path) -> dict | None:
  """The final metrics of a run of ``config`` that finished in ``workdir`` (its ``config.json`` is
  ``config``'s and its ``final_metrics.json`` was written after it), else None."""
  workdir = as_path(workdir)
  saved, done = workdir / "config.json", workdir / "final_metrics.json"
  if not (saved.exists() and done.exists()) or done.stat().mtime < saved.stat().mtime:
    return None
  if saved.read_text() != config.to_json_best_effort(indent=2):
    return None
  return json.loads(done.read_text())


def fit_and_release(config, workdir: Path, *, datasets=None, workdir_names_datasets: bool = False,
                    datasets_from_config: bool = False) -> dict:
  """``fit(config, workdir, datasets=datasets)``'s final metrics, then JAX's compiled programs dropped:
  each XLA:CPU executable keeps memory mappings of its own, and dozens of runs in one process exhaust
  them. A run that already finished with this config is read, not compiled again, so a sweep's rerun
  only trains what is missing; with a ``datasets`` override only where the caller vouches that the
  override is a function of what ``workdir`` names (``workdir_names_datasets``, e.g. a subset drawn
  from the seed and budget in its name), as the config alone does not say which data trained it."""
  if datasets is None or workdir_names_datasets:
    if (done := finished_metrics(config, workdir)) is not None:
      return done
  final, _ = fit(config, workdir, datasets=datasets, datasets_from_config=datasets_from_config)
  jax.clear_caches()
  gc.collect()
  return final


def fit_validated(config, workdir: Path, val_fraction: float = 0.1) -> tuple[dict, dict]:
  """``(validation metrics, test metrics)`` of one run of ``config`` trained without a stratified
  ``val_fraction`` of its training split (``dataset.val_fraction``): it trains evaluating on that
  validation split, then the finished run is resumed with ``dataset.evaluate_on = "test"``, which
  trains nothing and evaluates the same final state on the test split. Select on the first, report
  the second. The validation metrics are kept in ``workdir/validation_metrics.json``."""
  workdir = as_path(workdir)
  config = copy.deepcopy(config)
  config.dataset.val_fraction = val_fraction
  test_config = copy.deepcopy(config)
  config.dataset.evaluate_on = "validation"
  test_config.dataset.evaluate_on = "test"
  kept = workdir / "validation_metrics.json"
  if kept.exists() and (test := finished_metrics(test_config, workdir)) is not None:
    return json.loads(kept.read_text()), test
  validation = fit_and_release(config, workdir)
  kept.write_text(json.dumps(validation, indent=2))
  return validation, fit_and_release(test_config, workdir)
