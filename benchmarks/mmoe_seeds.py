"""N whole MMoE training runs: vmapped over seeds in one compiled program vs a Python loop over the
same single-run program (compiled once), as ``jaxtricks.experiments.mmoe`` runs them.

  python benchmarks/mmoe_seeds.py --seeds=16 --epochs=10 --rounds=3

Both sides train the same N runs (seed s: data seed 1 + s, initialisation seed s) of
``configs/synthetic_mmoe.py``; rounds alternate between them, the script prints the median seconds of
the runs (compilation excluded, reported separately), the ratio, and checks that both give the same
test losses.
"""

import argparse
import statistics
import time

import numpy as np

from jaxtricks.experiments.mmoe import train_seeds
from jaxtricks.training.config import load_config


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--seeds", type=int, default=16)
  parser.add_argument("--epochs", type=int, default=10)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--model", default="mmoe")
  args = parser.parse_args()
  config = load_config("synthetic_mmoe", f"model={args.model},epochs={args.epochs}")
  times = {"vmapped": [], "loop": []}
  results = {}
  for _ in range(args.rounds):
    for name in times:
      start = time.perf_counter()
      losses, seconds = train_seeds(config, args.seeds, vmapped=name == "vmapped")
      times[name].append(seconds)
      results[name] = losses
      print(f"{name}: {seconds:.2f} s of runs, {time.perf_counter() - start:.2f} s with data, "
            f"orders and compilation", flush=True)
  # The batched and the single-run programs round differently over thousands of Adam steps.
  np.testing.assert_allclose(results["vmapped"], results["loop"], rtol=1e-3)
  median = {k: statistics.median(v) for k, v in times.items()}
  steps = args.epochs * (10000 // config.train.batch_size)
  print(f"{args.seeds} runs × {steps} steps: one program {median['vmapped']:.2f} s, loop "
        f"{median['loop']:.2f} s (medians of {args.rounds}); loop / one program = "
        f"{median['loop'] / median['vmapped']:.2f}")


if __name__ == "__main__":
  main()
