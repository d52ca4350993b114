"""Bag of Tricks stacked one at a time, as in the paper's tables, on long-tailed digits (ResNet-20, 32×32).

  python -m jaxtricks.experiments.bag_of_tricks --seeds=3 --out=results/bag_of_tricks

He et al., "Bag of Tricks for Image Classification with Convolutional Neural Networks", CVPR 2019.
Row k of :data:`STACK` is ``configs/digits_baseline.py`` with the tricks of rows 1…k switched on;
:data:`VARIANTS` change the last row in one respect each (PReLU for ReLU with its He init; distil from
a ResNet-32 teacher trained once with the whole stack, at the paper's T = 20 and hard weight 0.5).
The default recipe, ``configs/default.py``, is the row :data:`DEFAULT` (a test keeps the two equal).
Writes ``results.md``, ``results.json`` and ``results.png`` into ``--out`` after every run; each run
keeps its workdir there, so an interrupted sweep resumes where it stopped.
"""

from pathlib import Path

import ml_collections
import numpy as np

from jaxtricks.experiments.common import Option, mean_std, run_script, sample_std, save_figure, save_results
from jaxtricks.training.config import load_config
from jaxtricks.training.trainer import fit

STACK = (
    ("baseline", {}),
    ("+ warm-up, Nesterov", {"optim.warmup_epochs": 5, "optim.nesterov": True}),
    ("+ zero-γ", {"model.resnet.zero_gamma": True}),
    ("+ no bias decay", {"optim.no_bias_decay": True}),
    ("+ ResNet-D", {"model.resnet.variant": "d"}),
    ("+ cosine", {"optim.schedule": "cosine"}),
    ("+ label smoothing", {"train.label_smoothing": 0.1}),
    ("+ mixup", {"train.mixup_alpha": 0.2, "train.mixup_off_epochs": 5}),
    # The long tail (IF=10): logit adjustment, which replaces label smoothing (the two do not compose:
    # docs/results.md, imbalance section).
    ("+ logit adjustment, − label smoothing", {"loss.logit_adjustment": 1.0, "train.label_smoothing": 0.0}),
)
VARIANTS = (
    ("all, PReLU", {"model.resnet.activation": "prelu"}),
    ("all + distillation", {"distill.kd_weight": 0.5, "distill.temperature": 20.0, "loss.weight": 0.5}),
)
DEFAULT = STACK[-1][0]
TEACHER = {"model.resnet.depth": 32}  # The distillation variant's teacher: the whole stack, deeper, seed 0.



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


def run(seeds: int, out: Path, rows=(), smoke: bool = False) -> dict[str, list[float]]:
  """Trains the baseline and the whole stack first, then the rows in between, then the variants."""
  stack = [n for n, _ in STACK]
  names = list(rows) or [stack[0], stack[-1]] + stack[1:-1] + [n for n, _ in VARIANTS]
  order = stack + [n for n, _ in VARIANTS]
  scores: dict[str, list[float]] = {}
  for name in names:
    for seed in range(seeds):
      config = row_config(name, seed, smoke)
      if config.distill.kd_weight:
        teacher = row_config(STACK[-1][0], 0, smoke)
        if not smoke:
          teacher.update_from_flattened_dict(TEACHER)
        teacher.progress = False
        config.distill.teacher = teacher
        config.distill.teacher_workdir = str(out / "teacher")
      config.progress = False
      final, _ = fit(config, out / _slug(name) / f"seed{seed}")
      scores.setdefault(name, []).append(final["eval/balanced_accuracy"])
      print(f"{name:>24} seed {seed}: balanced accuracy {final['eval/balanced_accuracy']:.4f}", flush=True)
      write_report({n: scores[n] for n in order if n in scores}, out)
  return scores


def _slug(name: str) -> str:
  return "".join(ch if ch.isalnum() else "_" for ch in name.replace("−", "minus")).strip("_").lower()


def write_report(scores: dict[str, list[float]], out: Path) -> None:
  from matplotlib.figure import Figure

  base = np.array(scores.get("baseline", [np.nan]))
  lines = ["| row | balanced test accuracy (%, mean ± std) | vs baseline, paired | per seed |",
           "|---|---|---|---|"]
  for name, values in scores.items():
    v = np.array(values)
    n = min(len(v), len(base))
    gap = v[:n] - base[:n]
    lines.append(f"| {name} | {mean_std(v)} | {mean_std(gap, signed=True)} | "
                 f"{', '.join(f'{100 * x:.1f}' for x in v)} |")
  save_results(out, scores, "\n".join(lines) + "\n", echo=False)  # Rewritten after every run.
  fig = Figure(figsize=(7, 3.5))
  ax = fig.subplots()
  names = list(scores)
  ax.errorbar(range(len(names)), [100 * np.mean(scores[n]) for n in names],
              yerr=[100 * sample_std(scores[n]) for n in names], fmt="o", capsize=3)
  for i, n in enumerate(names):
    ax.plot([i] * len(scores[n]), [100 * s for s in scores[n]], "k.", alpha=0.5)
  ax.set_xticks(range(len(names)))
  ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
  ax.set_ylabel("balanced test accuracy (%)")
  ax.set_title("Bag of Tricks, stacked: digits-LT (IF=10), ResNet-20")
  save_figure(fig, out / "results.png", dpi=100)


def main(args, out: Path) -> None:
  for name in args.rows:
    row_overrides(name)  # A misspelt row fails before any training.
  run(args.seeds, out, args.rows, args.smoke)
  print((out / "results.md").read_text())


if __name__ == "__main__":
  run_script("bag_of_tricks", main,
             rows=Option([], "Only these rows (names as in the table); default all."))
