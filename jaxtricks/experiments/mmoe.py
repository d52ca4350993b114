"""MMoE vs OMoE vs Shared-Bottom on the synthetic data (Ma et al., KDD 2018, §4.2–4.3): test loss
against task relatedness ρ, and the spread of the final loss over many runs (robustness).

  python -m jaxtricks.experiments.mmoe --seeds=5 --hist_seeds=60 --out=results/mmoe

Every run of ``configs/synthetic_mmoe.py`` (one model, one ρ) is the task's own train step, scanned
over all steps and vmapped over seeds in one compiled program: seed ``s`` generates its data with
``dataset.split_seed + s`` and initialises with ``seed + s``, and visits the batches that
``jaxtricks.training.fit`` would (``test_mmoe_experiment`` checks that both give the same loss).
Writes ``results.md``, the per-run rows (``results.jsonl``), ``loss_vs_rho.png`` and ``robustness.png``
into ``--out``.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from matplotlib.figure import Figure

from jaxtricks.data import build_datasets
from jaxtricks.experiments.common import Option, mean_std, run_script, sample_std, save_figure, save_results
from jaxtricks.models.multitask import KINDS
from jaxtricks.parallel import AXIS
from jaxtricks.tasks import multitask
from jaxtricks.tasks.base import Data
from jaxtricks.training.config import load_config

RHOS = (0.5, 0.8, 0.9, 1.0)


def _with_seed(config: ml_collections.ConfigDict, s: int) -> ml_collections.ConfigDict:
  config = config.copy_and_resolve_references()
  config.seed += s
  config.dataset.split_seed += s
  return config


def train_seeds(config: ml_collections.ConfigDict, num_seeds: int, *, vmapped: bool = True):
  """Test loss per head ``[num_seeds, heads]`` of ``num_seeds`` runs of ``config`` (see the module
  docstring), from one compiled program (``vmapped``) or from a Python loop over the compiled single
  run. Returns ``(losses, seconds)``, the seconds counting the runs after compilation."""
  configs = [_with_seed(config, s) for s in range(num_seeds)]
  data = [Data(*build_datasets(c.dataset)) for c in configs]
  task = multitask.from_config(configs[0], data[0], runs=None)
  steps = config.train.num_epochs * task.batches.steps_per_epoch
  orders = []
  for c, d in zip(configs, data):
    batches = multitask.from_config(c, d, runs=None).batches
    orders.append(np.stack([batches.indices(step) for step in range(steps)]))
  stack = lambda get: jnp.asarray(np.stack([get(d) for d in data]))
  inputs = (jnp.asarray([c.seed for c in configs]), stack(lambda d: d.train.images),
            stack(lambda d: d.train.extras["targets"]), jnp.asarray(np.stack(orders)),
            stack(lambda d: d.test.images), stack(lambda d: d.test.extras["targets"]))

  def one_run(seed, x, y, order, x_test, y_test):
    state = jax.tree.map(lambda a: a[None], task.init(seed))  # A one-device axis for the collectives.
    step = jax.vmap(task.train_step, axis_name=AXIS)

    def body(state, idx):
      batch = {"image": x[idx][None], "targets": y[idx][None]}
      return step(state, batch)[0], None

    state, _ = jax.lax.scan(body, state, order)
    outputs = task.infer(jax.tree.map(lambda a: a[0], state), x_test)
    return jnp.mean(multitask.head_losses(outputs, y_test, task.heads), axis=0)

  if vmapped:
    program = jax.jit(jax.vmap(one_run)).lower(*inputs).compile()
    start = time.perf_counter()
    losses = jax.block_until_ready(program(*inputs))
  else:
    program = jax.jit(one_run).lower(*(a[0] for a in inputs)).compile()
    start = time.perf_counter()
    losses = jnp.stack([jax.block_until_ready(program(*(a[s] for a in inputs)))
                        for s in range(num_seeds)])
  return np.asarray(losses), time.perf_counter() - start


def run(seeds: int, hist_seeds: int, hist_rho: float, epochs: int, **capacity) -> list[dict]:
  """One row per (model, ρ, seed): the test loss (MSE task 1 + MSE task 2). ``seeds`` runs at each of
  :data:`RHOS`, ``hist_seeds`` at ``hist_rho`` (the robustness histogram; its first ``seeds`` runs are
  that ρ's runs of the table). ``capacity``: ``experts``, ``units`` and ``lr`` of the recipe (its own
  value where 0); each row records the values the runs used."""
  arg = "".join(f",{k}={v}" for k, v in capacity.items() if v)
  rows = []
  for model in KINDS:
    for rho in sorted(set(RHOS) | {hist_rho}):
      count = max(seeds, hist_seeds) if rho == hist_rho else seeds
      config = load_config("synthetic_mmoe", f"model={model},rho={rho},epochs={epochs}{arg}")
      used = {"experts": config.model.multitask.num_experts, "units": config.model.multitask.units,
              "lr": config.optim.lr}
      losses = train_seeds(config, count)[0].sum(-1)
      rows += [{"model": model, "rho": rho, "seed": s, "epochs": epochs, **used, "loss": float(v)}
               for s, v in enumerate(losses)]
  return rows


def report(rows: list[dict], out: Path, seeds: int, hist_rho: float) -> str:
  """The loss per model and ρ over seeds ``0 … seeds−1``, the paired gaps to MMoE, the tail of the loss
  over every run at ``hist_rho``, and the two figures."""
  loss = lambda m, r, n=seeds: [x["loss"] for x in rows  # noqa: E731
                                if (x["model"], x["rho"]) == (m, r) and x["seed"] < n]
  lines = [f"Test loss (MSE task 1 + MSE task 2), mean ± std over {seeds} runs "
           f"({rows[0]['epochs']} epochs; each run its own data and initialisation):", "",
           "| model | " + " | ".join(f"ρ = {r}" for r in RHOS) + " |", "|---|" + "---|" * len(RHOS)]
  for m in KINDS:
    lines.append(f"| {m} | " + " | ".join(mean_std(loss(m, r), scale=1, digits=4) for r in RHOS) + " |")
  lines += ["", "Paired by seed (run s of every model has the same data and initialisation seed): "
            "loss of the other model minus MMoE's, mean ± std (positive: MMoE better):", "",
            "| other model | " + " | ".join(f"ρ = {r}" for r in RHOS) + " |", "|---|" + "---|" * len(RHOS)]
  for m in KINDS[1:]:
    gaps = [np.subtract(loss(m, r), loss("mmoe", r)) for r in RHOS]
    lines.append(f"| {m} | " + " | ".join(mean_std(g, scale=1, digits=4, signed=True) for g in gaps) + " |")
  hist = {m: np.asarray(loss(m, hist_rho, n=np.inf)) for m in KINDS}
  lines += ["", f"Final test loss over {len(hist[KINDS[0]])} runs at ρ = {hist_rho}:", "",
            "| model | mean | median | 90th percentile | worst |", "|---|---|---|---|---|"]
  for m, v in hist.items():
    stats = (v.mean(), np.median(v), np.percentile(v, 90), v.max())
    lines.append(f"| {m} | " + " | ".join(f"{x:.4f}" for x in stats) + " |")

  fig = Figure(figsize=(5, 3.5))
  ax = fig.subplots()
  for m in KINDS:
    ax.errorbar(RHOS, [np.mean(loss(m, r)) for r in RHOS], yerr=[sample_std(loss(m, r)) for r in RHOS],
                marker="o", capsize=3, label=m)
  ax.set(xlabel="task relatedness ρ (weight cosine)", ylabel="test loss", title="MMoE synthetic")
  ax.legend()
  save_figure(fig, out / "loss_vs_rho.png", dpi=120)
  fig = Figure(figsize=(5, 3.5))
  ax = fig.subplots()
  bins = np.histogram_bin_edges(np.concatenate(list(hist.values())), bins=20)
  for m in KINDS:
    ax.hist(hist[m], bins=bins, alpha=0.5, label=m)
  ax.set(xlabel="final test loss", ylabel="runs", title=f"robustness, ρ = {hist_rho}")
  ax.legend()
  save_figure(fig, out / "robustness.png", dpi=120)
  return "\n".join(lines) + "\n"


def main(args, out: Path) -> None:
  epochs = 2 if args.smoke else args.epochs
  rows = run(args.seeds, args.hist_seeds, args.hist_rho, epochs, experts=args.experts, units=args.units,
             lr=args.lr)
  save_results(out, rows, report(rows, out, args.seeds, args.hist_rho))


if __name__ == "__main__":
  run_script("mmoe", main, seeds=5,
             hist_seeds=Option(60, "Runs per model for the robustness histogram."),
             hist_rho=Option(0.5, "Task relatedness of the robustness histogram."),
             epochs=Option(100, "Epochs per run (keras-mmoe: 100; --smoke: 2)."),
             experts=Option(0, "Experts per layer (OMoE, MMoE); 0: the recipe's 8."),
             units=Option(0, "Units per expert (Shared-Bottom matches OMoE's); 0: the recipe's 16."),
             lr=Option(0.0, "Adam's learning rate; 0: the recipe's 1e-4."))
