"""InfoGAN vs the same GAN without the information term (λ = 0) on the 8×8 digits: does the
categorical code capture the digit class?

  python -m jaxtricks.experiments.infogan --seeds=3 --out=results/infogan

Runs ``configs/digits_infogan.py`` with ``info_weight`` 1 and 0 for each seed (one digits classifier,
trained once in ``--out/classifier``, scores the generated samples), and writes ``results.md``,
``results.jsonl`` and, per λ and continuous code m, ``codes_lambda<λ>_c<m>.png``: rows vary the
categorical code, columns continuous code m from −1 to 1, the noise and the other codes fixed. Runs
keep their workdirs, so a sweep resumes.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from matplotlib.figure import Figure

from jaxtricks.data import build_datasets
from jaxtricks.experiments.common import Option, mean_std, run_script, save_figure, save_results
from jaxtricks.tasks import infogan
from jaxtricks.tasks.base import Data
from jaxtricks.training import fit
from jaxtricks.training.config import load_config

WEIGHTS = (1.0, 0.0)
METRICS = ("code_accuracy_real", "code_accuracy_generated")
CHANCE = tuple(f"{m}_chance" for m in METRICS)


def run(seeds: int, out: Path, smoke: bool, weights=WEIGHTS) -> list[dict]:
  rows = []
  for weight in weights:
    for seed in range(seeds):
      config = load_config("digits_infogan", f"smoke={smoke},seed={seed},info_weight={weight}")
      config.progress = False
      if not (out / "classifier" / "final_metrics.json").exists():
        fit(config.infogan.classifier, out / "classifier")
      config.infogan.classifier_workdir = str(out / "classifier")
      config.infogan.classifier = ml_collections.ConfigDict()  # Loaded, not retrained.
      workdir = out / f"lambda{weight:g}_seed{seed}"
      final, state = fit(config, workdir)
      rows.append({"info_weight": weight, "seed": seed,
                   **{m: final[f"eval/{m}"] for m in METRICS + CHANCE}})
      if seed == 0:
        for m in range(config.infogan.continuous):
          save_code_grid(config, state, out / f"codes_lambda{weight:g}_c{m + 1}.png", m)
  return rows


def save_code_grid(config, state, path: Path, code: int = 0, steps: int = 8) -> None:
  """Generated digits: row k = categorical code k, column j = continuous code ``code`` at
  ``linspace(−1, 1)[j]``, the other codes (0) and the noise fixed."""
  config = config.copy_and_resolve_references()
  config.infogan.classifier_workdir = ""  # The generator alone: no classifier to load or train.
  config.infogan.classifier = ml_collections.ConfigDict()
  data = Data(*build_datasets(config.dataset))
  task = infogan.from_config(config, data, runs=None)
  state = jax.device_get(state)
  k, steps_ = task.categories, np.linspace(-1.0, 1.0, steps)
  noise = np.random.default_rng(1).uniform(-1, 1, (1, task.noise_dim)).repeat(k * steps, 0)
  category = np.repeat(np.arange(k), steps)
  cont = np.zeros((k * steps, task.continuous), np.float32)
  cont[:, code] = np.tile(steps_, k)
  images = np.asarray(task.generate(state, task.latent(jnp.asarray(noise, jnp.float32),
                                                       jnp.asarray(category), jnp.asarray(cont))))
  size = images.shape[1]
  grid = images[..., 0].reshape(k, steps, size, size).transpose(0, 2, 1, 3).reshape(k * size, -1)
  fig = Figure(figsize=(steps * 0.6, k * 0.6))
  ax = fig.subplots()
  ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
  ax.set(xlabel=f"continuous code {code + 1}: −1 → 1", ylabel="categorical code", xticks=[], yticks=[],
         title=f"λ = {config.infogan.info_weight:g}")
  save_figure(fig, path, dpi=120)


def report(rows: list[dict]) -> str:
  lines = [f"Categorical-code accuracy under the best code → digit map (%), mean ± std over "
           f"{len({r['seed'] for r in rows})} seeds; in brackets the same map's accuracy with the codes "
           "shuffled across the examples (its chance level at this sample size):", "",
           "| model | Q on real test digits | generated samples (classifier) |", "|---|---|---|"]
  for weight in dict.fromkeys(r["info_weight"] for r in rows):
    picked = [r for r in rows if r["info_weight"] == weight]
    cells = [f"{mean_std([r[m] for r in picked])} ({mean_std([r[c] for r in picked if c in r])})"
             for m, c in zip(METRICS, CHANCE)]
    name = "InfoGAN (λ = 1)" if weight else "GAN (λ = 0)"
    lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
  return "\n".join(lines) + "\n"


def main(args, out: Path) -> None:
  rows = run(args.seeds, out, args.smoke, tuple(float(w) for w in args.info_weights))
  save_results(out, rows, report(rows))


if __name__ == "__main__":
  run_script("infogan", main, info_weights=Option(["1", "0"], "λ values (0: the plain GAN)."))
