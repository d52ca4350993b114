"""Bag of Tricks stacked one at a time, as in the paper's tables, on long-tailed digits (ResNet-20, 32×32).

  python -m jaxtricks.experiments.bag_of_tricks --seeds=5 --out=results/bag_of_tricks

He et al., "Bag of Tricks for Image Classification with Convolutional Neural Networks", CVPR 2019.
Row k of :data:`STACK` is ``configs/digits_baseline.py`` with the tricks of rows 1…k switched on;
:data:`VARIANTS` change the last row in one respect each (PReLU for ReLU with its He init; distil from
a ResNet-32 teacher trained with the whole stack on the same split, at the paper's T = 20 and hard
weight 0.5). Seed s trains on split s (``dataset.split_seed``) without a stratified 10 % of its
training digits, on which each run's validation balanced accuracy is measured (the choice of the
default row); the test accuracy is measured once, at the end. The default recipe,
``configs/default.py``, is the row :data:`DEFAULT` (a test keeps the two equal).
Writes ``results.md``, ``results.jsonl`` and ``results.png`` into ``--out`` after every run; each run
keeps its workdir there, so an interrupted sweep resumes where it stopped.
"""

from pathlib import Path

import ml_collections

from jaxtricks.experiments.tables import TABLES
from jaxtricks.experiments.common import Option, fit_validated, run_script, save_figure, save_results
from jaxtricks.training.config import load_config
from jaxtricks.training.plots import plot_seed_bars

STACK = (
    ("baseline", {}),
    ("+ warm-up and Nesterov", {"optim.warmup_epochs": 5, "optim.nesterov": True}),
    ("+ zero-γ", {"model.resnet.zero_gamma": True}),
    ("+ no bias decay", {"optim.no_bias_decay": True}),
    ("+ ResNet-D", {"model.resnet.variant": "d"}),
    ("+ cosine", {"optim.schedule": "cosine"}),
    ("+ label smoothing", {"train.label_smoothing": 0.1}),
    ("+ mixup", {"train.mixup_alpha": 0.2, "train.mixup_off_epochs": 5}),
    # The long tail (IF=10): logit adjustment, which replaces label smoothing (the two do not compose:
    # docs/results.md, imbalance section).
    ("+ logit adjustment − label smoothing", {"loss.logit_adjustment": 1.0, "train.label_smoothing": 0.0}),
)
VARIANTS = (
    ("all with PReLU", {"model.resnet.activation": "prelu"}),
    ("all + distillation", {"distill.kd_weight": 0.5, "distill.temperature": 20.0, "loss.weight": 0.5}),
)
DEFAULT = STACK[-1][0]
VAL_FRACTION = 0.1  # Held out of training for the choice of the default row.
TEACHER = {"model.resnet.depth": 32}  # The distillation teacher: the whole stack, deeper, one per split.



def row_overrides(name: str) -> dict:
  """The flattened config values that turn ``digits_baseline`` into row ``name``."""
  names = [n for n, _ in STACK]
  variants = dict(VARIANTS)
  if name not in names and name not in variants:
    raise ValueError(f"row must be one of {names + list(variants)}, got {name!r}")
  upto = names.index(name) + 1 if name in names else len(STACK)
  overrides = {}
  for _, values in STACK[:upto]:
    overrides.update(values)
  return {**overrides, **variants.get(name, {})}


def row_config(name: str, seed: int, smoke: bool = False) -> ml_collections.ConfigDict:
  config = load_config("digits_baseline", f"smoke={smoke},seed={seed}")
  overrides = row_overrides(name)
  if smoke:  # The smoke run has 2 epochs: keep the warm-up and deferral inside them.
    overrides = {k: (min(v, 1) if k in ("optim.warmup_epochs", "loss.reweight_from_epoch",
                                        "train.mixup_off_epochs") else v) for k, v in overrides.items()}
  config.update_from_flattened_dict(overrides)
  return config


def run(seeds: int, out: Path, rows=(), smoke: bool = False) -> list[dict]:
  """One row per (row, seed): validation and test balanced accuracy (:func:`fit_validated`: 10 % of the
  training digits held out before the long tail is drawn). Trains the baseline and the whole stack
  first, then the rows in between, then the variants."""
  stack = [n for n, _ in STACK]
  names = list(rows) or [stack[0], stack[-1]] + stack[1:-1] + [n for n, _ in VARIANTS]
  results = []
  for name in names:
    for seed in range(seeds):
      config = row_config(name, seed, smoke)
      config.dataset.split_seed = seed
      if config.distill.kd_weight:  # A teacher per split: it must not have seen this split's test digits.
        teacher = row_config(STACK[-1][0], seed, smoke)
        teacher.dataset.split_seed = seed
        if not smoke:
          teacher.update_from_flattened_dict(TEACHER)
        teacher.dataset.val_fraction = VAL_FRACTION
        teacher.progress = False
        config.distill.teacher = teacher
        config.distill.teacher_workdir = str(out / "teacher" / f"seed{seed}")
      config.progress = False
      validation, final = fit_validated(config, out / _slug(name) / f"seed{seed}", VAL_FRACTION)
      results.append({"row": name, "seed": seed, "val_accuracy": validation["eval/balanced_accuracy"],
                      "balanced_accuracy": final["eval/balanced_accuracy"]})
      print(f"{name:>24} seed {seed}: balanced accuracy {final['eval/balanced_accuracy']:.4f} "
            f"(validation {validation['eval/balanced_accuracy']:.4f})", flush=True)
      write_report(results, out)
  return results


def _slug(name: str) -> str:
  return "".join(ch if ch.isalnum() else "_" for ch in name.replace("−", "minus")).strip("_").lower()


def write_report(rows: list[dict], out: Path) -> None:
  """``results.md`` (validation and test balanced accuracy per row), ``results.jsonl`` and a figure of
  the test accuracy per seed."""
  from matplotlib.figure import Figure

  save_results(out, rows, TABLES["bag_of_tricks"](rows) + "\n", echo=False)  # Rewritten after every run.
  scores = {}
  for r in rows:
    scores.setdefault(r["row"], []).append(100 * r["balanced_accuracy"])
  fig = Figure(figsize=(7, 4.5))
  ax = plot_seed_bars(scores, fig.subplots())
  ax.set_ylabel("balanced test accuracy (%)")
  ax.set_title("Bag of Tricks, stacked: digits-LT (IF=10), ResNet-20")
  save_figure(fig, out / "results.png", dpi=100)


def main(args, out: Path) -> None:
  run(args.seeds, out, args.rows, args.smoke)
  print((out / "results.md").read_text())


if __name__ == "__main__":
  run_script("bag_of_tricks", main,
             rows=Option([], "Only these rows (names as in the table); default all.",
                         choices=[n for n, _ in STACK + VARIANTS]))
