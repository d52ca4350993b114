"""Bag of Tricks vs. plain training on long-tailed digits, over several seeds.

  python -m jaxtricks.experiments.bag_of_tricks --seeds=3 --out=results/bag_of_tricks

Trains ``configs/default.py`` (all tricks) and ``configs/digits_baseline.py`` (none) with each seed,
then writes ``results.md`` (balanced test accuracy, mean ± std) and ``results.png`` into ``--out``.
Each run keeps its own workdir there, so an interrupted sweep resumes where it stopped.
"""

import json
from pathlib import Path

import numpy as np
from absl import app, flags, logging

from jaxtricks.training.config import load_config
from jaxtricks.training.trainer import fit

METHODS = {"baseline": "digits_baseline", "bag of tricks": "default"}

_SEEDS = flags.DEFINE_integer("seeds", 3, "Number of seeds (0, 1, ...).")
_OUT = flags.DEFINE_string("out", "results/bag_of_tricks", "Output directory.")
_ARG = flags.DEFINE_string("arg", "", "Extra config argument, e.g. 'smoke' for a quick check.")


def run(seeds: int, out: Path, arg: str = "") -> dict[str, list[float]]:
  scores: dict[str, list[float]] = {}
  for method, file in METHODS.items():
    for seed in range(seeds):
      config = load_config(file, ",".join(filter(None, [arg, f"seed={seed}"])))
      config.progress = False
      final, _ = fit(config, out / f"{file}_seed{seed}")
      scores.setdefault(method, []).append(final["eval/balanced_accuracy"])
      print(f"{method:>14} seed {seed}: balanced accuracy {final['eval/balanced_accuracy']:.4f}")
  return scores


def write_report(scores: dict[str, list[float]], out: Path) -> None:
  from matplotlib.figure import Figure

  lines = ["| method | balanced test accuracy (mean ± std) | per seed |", "|---|---|---|"]
  for method, values in scores.items():
    lines.append(f"| {method} | {np.mean(values):.4f} ± {np.std(values):.4f} | "
                 f"{', '.join(f'{v:.4f}' for v in values)} |")
  (out / "results.md").write_text("\n".join(lines) + "\n")
  (out / "results.json").write_text(json.dumps(scores, indent=2))
  fig = Figure(figsize=(4, 3))
  ax = fig.subplots()
  names = list(scores)
  ax.bar(names, [np.mean(scores[n]) for n in names], yerr=[np.std(scores[n]) for n in names],
         color=["C0", "C2"], capsize=4)
  for i, n in enumerate(names):
    ax.plot([i] * len(scores[n]), scores[n], "k.")
  ax.set_ylabel("balanced test accuracy")
  ax.set_title("digits-LT (IF=10), ResNet-20")
  lo = min(min(v) for v in scores.values())
  ax.set_ylim(max(0.0, lo - 0.1), 1.0)
  fig.tight_layout()
  fig.savefig(out / "results.png", dpi=100)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  out = Path(_OUT.value)
  out.mkdir(parents=True, exist_ok=True)
  scores = run(_SEEDS.value, out, _ARG.value)
  write_report(scores, out)
  print((out / "results.md").read_text())


if __name__ == "__main__":
  app.run(main)
