"""Robust features on digits (Ilyas et al., NeurIPS 2019) and adversarial training (Madry et al.,
ICLR 2018): every model tested on the clean test digits and under L2 PGD at ε = 0.5.

  python -m jaxtricks.experiments.robust_features --seeds=5 --out=results/robust_features

Per seed s: the standard CNN (``digits_robust_features:kind=none``) and its adversarially trained
twins (``digits_adversarial`` at ε = 0.5 and 1, same seed: same initialisation and batches); then
fresh standard CNNs trained on D_R (inverted through the ε = 0.5 model of seed s) and on D_NR
(through the standard model of seed s). Every model is tested under the same attack (:data:`ATTACK`).
Claims, each judged by :mod:`jaxtricks.experiments.stats` on the paired per-seed differences: a
standard model trained on D_R is more robust than one trained on the original digits and than one
trained on D_NR, and less accurate on clean digits; adversarial training raises robust accuracy and
lowers clean accuracy. Writes ``results.md``, ``results.jsonl`` and ``robust_features.png``
(originals, D_R, D_NR and D_det images of seed 0); runs keep their workdirs, so a sweep resumes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxtricks.data import build_datasets
from jaxtricks.data.constructed import inverted_dataset, nonrobust_dataset
from jaxtricks.experiments import claims
from jaxtricks.experiments.common import fit_and_release, mean_std, run_script, save_image_rows, save_results
from jaxtricks.training.config import load_config
from jaxtricks.training.runs import Runs

# (row, recipe, argument, the source row whose run it inverts)
ROWS = (("standard", "digits_robust_features", "kind=none", None),
        ("adversarial", "digits_adversarial", "", None),
        ("adversarial_1", "digits_adversarial", "epsilon=1.0", None),
        ("D_R", "digits_robust_features", "kind=robust", "adversarial"),
        ("D_NR", "digits_robust_features", "kind=nonrobust", "standard"))
# Every model is tested under one attack: L2 PGD, ε = 0.5, 20 steps of 2.5·ε/20, random start.
ATTACK = {"epsilon": 0.5, "step_size": 2.5 * 0.5 / 20, "steps": 20, "norm": "l2"}


def _config(recipe: str, arg: str, seed: int, smoke: bool):
  config = load_config(recipe, ",".join(a for a in (arg, f"seed={seed}", f"smoke={smoke}") if a))
  config.progress = False
  config.eval_pgd.update(ATTACK)
  return config


def run(seeds: int, out: Path, smoke: bool) -> list[dict]:
  rows = []
  for seed in range(seeds):
    for name, recipe, arg, source in ROWS:
      config = _config(recipe, arg, seed, smoke)
      if source is not None:  # The source of seed s is the run of that row, already trained.
        config.constructed.source = {}
        config.constructed.source_workdir = str(out / f"{source}_s{seed}")
      final = fit_and_release(config, out / f"{name}_s{seed}")
      rows.append({"row": name, "seed": seed, "accuracy": final["eval/accuracy"],
                   "robust_accuracy": final["eval/robust_accuracy"],
                   **{k.removeprefix("eval/"): v for k, v in final.items() if "inversion_distance" in k}})
  return rows


def figure(out: Path, smoke: bool, count: int = 8) -> None:
  """``robust_features.png``: ``count`` training digits, their D_R and D_NR images (seed 0's
  sources; each inversion starts from another of these digits) and their D_det perturbation."""
  config = _config("digits_robust_features", "kind=robust", 0, smoke)
  train, _ = build_datasets(config.dataset)
  train = train.subset(np.arange(count))
  runs = Runs(out, fit=None)
  panels = {"original": train.images}
  c = config.constructed
  for name, source in (("D_R", "adversarial_s0"), ("D_NR", "standard_s0")):
    apply = runs.load(source).inference(train.num_classes)
    features = lambda x: apply(x)[1]["embedding"]  # noqa: E731
    panels[name] = inverted_dataset(features, train, step_size=c.step_size, steps=c.steps, seed=0)[0].images
  standard = runs.load("standard_s0").inference(train.num_classes)
  moved = nonrobust_dataset(lambda x: standard(x)[0], train, "det", epsilon=1.0, step_size=0.2,
                            steps=5 if smoke else 100, seed=0)[0].images
  panels["D_det − original (×4)"] = 0.5 + 4 * (moved - train.images)
  save_image_rows(panels, out / "robust_features.png")


def report(rows: list[dict]) -> str:
  seeds = len({r["seed"] for r in rows})
  lines = [f"Test accuracy (%) of each training set's model, clean and under L2 PGD (ε = 0.5, 20 steps), "
           f"mean ± std over {seeds} seeds:", "", "| trained on | clean | robust (L2 ε = 0.5) |",
           "|---|---|---|"]
  names = {"standard": "original digits", "adversarial": "original digits, adversarial training (ε = 0.5)",
           "adversarial_1": "original digits, adversarial training (ε = 1)",
           "D_R": "D_R (robust model's features)", "D_NR": "D_NR (standard model's features)"}
  for name, *_ in ROWS:
    picked = [r for r in rows if r["row"] == name]
    lines.append(f"| {names[name]} | {mean_std([r['accuracy'] for r in picked])} | "
                 f"{mean_std([r['robust_accuracy'] for r in picked])} |")
  distance = lambda name, end: mean_std(  # noqa: E731
      [r[f"inversion_distance_{end}"] for r in rows if r["row"] == name], scale=1, digits=2)
  if any("inversion_distance_end" in r for r in rows):
    lines += ["", "Inversion: relative representation distance ‖g(x_r) − g(x)‖/‖g(x)‖ from the start "
              "image to the result: " + "; ".join(f"{name} {distance(name, 'start')} → "
                                                  f"{distance(name, 'end')}" for name in ("D_R", "D_NR"))
              + "."]
  if seeds < 2:  # A paired interval needs two seeds.
    return "\n".join(lines) + "\n"
  judged = [c for c in claims.CLAIMS if c.data == "robust_features"]  # The claims of docs/results.md.
  lines += ["", "Claims, judged by `jaxtricks.experiments.stats`:", "",
            claims.claims_table(judged, rows={"robust_features": rows})]
  return "\n".join(lines) + "\n"


def main(args, out: Path) -> None:
  rows = run(args.seeds, out, args.smoke)
  figure(out, args.smoke)
  save_results(out, rows, report(rows))


if __name__ == "__main__":
  run_script("robust_features", main, seeds=5)
