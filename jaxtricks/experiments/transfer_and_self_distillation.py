"""Transfer learning at several label budgets, and self-distillation generations, on digits.

  python -m jaxtricks.experiments.transfer_and_self_distillation --seeds=3 --out=results/transfer

``transfer``: ``configs/digits_transfer_{finetune,freeze}.py``. One source CNN is trained on digits
0–4 and shared by every run. On digits 5–9 with 5, 20 or all training images per class, four
networks train for the same 200 steps: from scratch (``:scratch``), fine-tuned with the backbone at
0.1× LR, with the source's backbone frozen, and with a frozen *random* backbone (the control for the
source's features: what a new head on untrained features reaches). The labelled subset is drawn per
seed.

``self_distillation``: ``configs/digits_self_distill.py:generations=3`` (Born-Again Networks;
Park et al. report one generation helping most). Each generation learns from the previous one,
after the small CNN's own run.

Writes ``results.md`` and ``results.jsonl``; runs keep their workdirs, so a sweep resumes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxtricks.data import build_datasets
from jaxtricks.data.semi_supervised import labelled_split
from jaxtricks.experiments.common import (Option, fit_and_release, mean_std, run_parts,
                                         run_script, save_results)
from jaxtricks.training.config import load_config

PARTS = ("transfer", "self_distillation")
BUDGETS = (5, 20, 0)  # Training images per class; 0: all.
METHODS = ("scratch", "finetune", "freeze", "freeze_random")
STEPS = 200


def _fit(config, workdir: Path) -> dict:
  config.progress = False
  return fit_and_release(config, workdir)


def transfer(seeds: int, out: Path, smoke: bool) -> list[dict]:
  rows = []
  source = out / "source"
  for seed in range(seeds):
    for budget in BUDGETS:
      for method in METHODS:
        recipe = "digits_transfer_freeze" if method.startswith("freeze") else "digits_transfer_finetune"
        from_source = method in ("finetune", "freeze")
        config = load_config(recipe, f"smoke={smoke},seed={seed},scratch={not from_source}")
        if from_source:
          config.transfer.init_from = str(source)  # trained there by the first run that needs it
        train, test = build_datasets(config.dataset)
        if budget:
          keep, _ = labelled_split(train.labels, budget / np.bincount(train.labels).min(), seed)
          train = train.subset(keep)
        batch = min(64, len(train) // 2)
        config.train.batch_size = batch
        steps_per_epoch = len(train) // batch
        config.train.num_epochs = 1 if smoke else -(-STEPS // steps_per_epoch)
        config.eval_every_epochs = config.train.num_epochs
        config.optim.warmup_epochs = 0
        config.progress = False
        workdir = out / f"{method}_b{budget}_s{seed}"
        final = fit_and_release(config, workdir, datasets=(train, test), workdir_names_datasets=True,
                                datasets_from_config=True)
        rows.append({"part": "transfer", "method": method, "budget": budget, "seed": seed,
                     "train_images": len(train), "accuracy": final["eval/accuracy"]})
  return rows


def self_distillation(seeds: int, out: Path, smoke: bool) -> list[dict]:
  rows = []
  for seed in range(seeds):
    config = load_config("digits_self_distill", f"smoke={smoke},seed={seed},generations=3")
    config.distill.teacher.progress = False
    final = _fit(config, out / f"self_distill_s{seed}")
    accuracies = [final["teacher"]["eval/accuracy"]] + [g["eval/accuracy"] for g in final["generations"]]
    rows += [{"part": "self_distillation", "generation": g, "seed": seed, "accuracy": a}
             for g, a in enumerate(accuracies)]
  return rows


def report(rows: list[dict]) -> str:
  lines = []
  picked = [r for r in rows if r["part"] == "transfer"]
  if picked:
    seeds = len({r["seed"] for r in picked})
    lines += [f"Transfer to digits 5–9, test accuracy (%), mean ± std over {seeds} seeds, the same {STEPS} "
              "steps each; in brackets the paired difference to training from scratch:", "",
              "| images per class | from scratch | fine-tuned (backbone LR ×0.1) | frozen backbone | "
              "frozen random backbone |", "|---|---|---|---|---|"]
    for budget in BUDGETS:
      acc = {(r["method"], r["seed"]): r["accuracy"] for r in picked if r["budget"] == budget}
      cells = []
      for m in METHODS:
        values = [acc[m, s] for s in range(seeds)]
        gaps = [acc[m, s] - acc["scratch", s] for s in range(seeds)]
        diff = "" if m == "scratch" else f" ({mean_std(gaps, signed=True)})"
        cells.append(mean_std(values) + diff)
      lines.append(f"| {budget or 'all'} | " + " | ".join(cells) + " |")
    lines.append("")
  picked = [r for r in rows if r["part"] == "self_distillation"]
  if picked:
    seeds = len({r["seed"] for r in picked})
    acc = {(r["generation"], r["seed"]): r["accuracy"] for r in picked}
    lines += [f"Self-distillation, test accuracy (%), mean ± std over {seeds} seeds; in brackets the paired "
              "difference to the previous generation:", "", "| generation | accuracy |", "|---|---|"]
    for g in sorted({r["generation"] for r in picked}):
      diff = ""
      if g:
        diff = f" ({mean_std([acc[g, s] - acc[g - 1, s] for s in range(seeds)], signed=True)})"
      name = "0 (the CNN alone, the first teacher)" if g == 0 else str(g)
      lines.append(f"| {name} | {mean_std([acc[g, s] for s in range(seeds)])}{diff} |")
    lines.append("")
  return "\n".join(lines)


def main(args, out: Path) -> None:
  rows = run_parts({"transfer": transfer, "self_distillation": self_distillation}, args, out)
  save_results(out, rows, report(rows))


if __name__ == "__main__":
  run_script("transfer", main, parts=Option(PARTS, "Which parts to run.", choices=PARTS))
