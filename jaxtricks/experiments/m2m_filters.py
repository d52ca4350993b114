"""Why M2m accepts no translation on long-tailed digits: its two filters, measured on each split's g.

  python -m jaxtricks.experiments.m2m_filters --seeds=10 --imbalance=50,100 --runs=results/imbalance

Kim, Jeong & Shin, "M2m: Imbalanced Classification via Major-to-minor Translation", CVPR 2020. For
seed s, g is the ERM run on split s of ``jaxtricks.experiments.imbalance`` (its workdir
``--runs/if<F>/erm_seed<s>``: read when that sweep has finished it, else trained there). A class-balanced
pool of ``--per_class`` training digits per class stands for M2m's over-sampled batch; every slot of
the three rarest classes is a target (its own class k) and draws its seed ∝ ``1 − β^{(N_k0 − N_k)^+}``
from the pool by :func:`jaxtricks.imbalance.m2m.draw_seeds`, as training does. Per setting of
:data:`SETTINGS`:

* ``beta_pass``: the mean probability ``1 − β^{gap}`` that the drawn seed survives the Bernoulli
  filter (``beta_pass_all``: over the slots of every class that has a seed);
* ``target_prob`` and ``confident``: the median ``softmax(g(x*))[k]`` after translation and the share
  that passes ``≥ γ = 0.9`` (f = g: the λ term pushes away from the seed class of the same network);
* ``move``: the median ``‖x* − x0‖₂ / ‖x0‖₂`` (standardised digits, so a ratio near 1 moves a digit
  by its own size).
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxtricks.data import build_datasets
from jaxtricks.experiments.common import Option, fit_and_release, run_script, save_results
from jaxtricks.experiments.imbalance import recipe
from jaxtricks.experiments.tables import TABLES
from jaxtricks.imbalance.m2m import cap_noise, draw_seeds, translate
from jaxtricks.inference import load_run

THRESHOLD = 0.9  # γ, the official value.
SETTINGS = (  # (name, β, η, T, λ): the official one first, then the filters loosened one at a time.
    ("official", 0.999, 0.1, 10, 0.5),
    ("β = 0.99", 0.99, 0.1, 10, 0.5),
    ("β = 0.9", 0.9, 0.1, 10, 0.5),
    ("λ = 0, η = 0.5", 0.999, 0.5, 10, 0.0),
    ("η = 1, T = 20, λ = 0.1", 0.999, 1.0, 20, 0.1),
)


def filters(imbalance: float, seed: int, runs: Path, per_class: int, smoke: bool = False) -> list[dict]:
  """One row per setting of :data:`SETTINGS` for the split ``seed`` at ``imbalance``."""
  arg = ",".join(filter(None, ["smoke" if smoke else "", f"seed={seed}", f"imbalance={imbalance:g}"]))
  config = recipe("erm", arg, seed)
  workdir = runs / f"if{imbalance:g}" / f"erm_seed{seed}"
  fit_and_release(config, workdir)  # The imbalance sweep's g: read when finished there.
  train, _ = build_datasets(config.dataset)
  g = load_run(workdir).inference(train.num_classes)
  g_apply = lambda x: g(x)[0]  # noqa: E731
  counts = jnp.asarray(train.class_counts())
  draw = np.random.default_rng(seed)
  index = np.concatenate([draw.choice(np.flatnonzero(train.labels == c), per_class)
                          for c in range(train.num_classes)])  # Class-balanced, with replacement.
  pool, labels = jnp.asarray(train.images[index]), jnp.asarray(train.labels[index])
  rarest = np.argsort(train.class_counts(), kind="stable")[:3]
  minority = jnp.asarray(np.flatnonzero(np.isin(train.labels[index], rarest)))
  data_range = (float(train.images.min()), float(train.images.max()))
  k_all, k_seed, k_noise = jax.random.split(jax.random.key(seed), 3)
  all_keys, seed_keys = jax.random.split(k_all, len(index)), jax.random.split(k_seed, len(minority))
  norm = lambda x: jnp.linalg.norm(x.reshape(len(x), -1), axis=1)  # noqa: E731
  rows = []
  for name, beta, step_size, steps, lam in SETTINGS:
    _, passes_all, has_seed = draw_seeds(all_keys, counts, labels, labels, beta=beta)
    seeds, passes, _ = draw_seeds(seed_keys, counts, labels, labels[minority], beta=beta)
    x0, targets = pool[seeds], labels[minority]
    noise = cap_noise(jax.random.uniform(k_noise, x0.shape) - 0.5)
    x_star = jax.jit(functools.partial(translate, g_apply, g_apply, steps=steps, step_size=step_size, lam=lam,
                                       data_range=data_range))(x0, labels[seeds], targets, init_noise=noise)
    probs = jax.nn.softmax(g_apply(x_star))[jnp.arange(len(targets)), targets]
    rows.append({"imbalance": imbalance, "seed": seed, "setting": name, "beta": beta, "step_size": step_size,
                 "steps": steps, "lam": lam, "beta_pass": float(passes.mean()),
                 "beta_pass_all": float(passes_all[has_seed].mean()),
                 "target_prob": float(jnp.median(probs)), "confident": float(jnp.mean(probs >= THRESHOLD)),
                 "move": float(jnp.median(norm(x_star - x0) / norm(x0)))})
  return rows


def main(args, out: Path) -> None:
  rows = [row for imbalance in args.imbalance for seed in range(args.seeds)
          for row in filters(float(imbalance), seed, Path(args.runs), args.per_class, args.smoke)]
  save_results(out, rows, TABLES["m2m_filters"](rows) + "\n")


if __name__ == "__main__":
  run_script("m2m_filters", main, seeds=10,
             imbalance=Option(["100"], "Imbalance factors (N_max / N_min), comma-separated."),
             runs=Option("results/imbalance", "The imbalance sweep's --out, whose ERM runs are g."),
             per_class=Option(64, "Training digits per class in the class-balanced pool."))
