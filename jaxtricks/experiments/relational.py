"""Relation Network vs CNN+MLP on Sort-of-CLEVR: accuracy on relational and non-relational questions.

  python -m jaxtricks.experiments.relational --seeds=5 --lrs=1e-4,3e-4,1e-3 --out=results/relational

Runs ``configs/sort_of_clevr_rn.py`` for both models, each of ``--lrs`` and each seed (``--scale=full``
for the reference's setting on an accelerator). Every run trains without the last 10 % of its training
scenes (with their questions) and records its accuracy on them (``val_accuracy``, all questions): the
learning rate is chosen per model on that, and test accuracy is read once per run. Writes
``results.md``, ``results.jsonl`` and ``curves.png`` (validation accuracy per question kind over
epochs). Runs keep their workdirs, so a sweep resumes. Two controls: each seed's question-only prior
(the training scenes' most frequent answer to each distinct question, what a model that ignores the
image can reach), and each chosen run evaluated with every test scene's questions asked about the
next scene's image (``*_other_scenes``: a model that reads the image falls, one that ignores it does
not).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from jaxtricks.data import build_datasets
from jaxtricks.experiments.claims import chosen_on_validation
from jaxtricks.experiments.common import Option, fit_validated, run_script, save_figure, save_results
from jaxtricks.experiments.tables import TABLES
from jaxtricks.models.relational import KINDS
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import relational as relational_task
from jaxtricks.tasks.base import Data, TrainState
from jaxtricks.training.config import load_config
from jaxtricks.transfer import load_variables

QUESTION_KINDS = ("nonrelational", "relational")
NAMES = {"rn": "RN", "cnn_mlp": "CNN+MLP", "question_only": "question only (answer prior)"}


def question_only_accuracy(config) -> dict[str, float]:
  """Test accuracy per question kind of answering each distinct question vector with its most
  frequent answer in the training scenes (the image unseen)."""
  train, test = build_datasets(config.dataset)
  flat = lambda d, k: d.extras[k].reshape(-1, *d.extras[k].shape[2:])  # noqa: E731
  prior = {}
  for question, answer in zip(flat(train, "questions"), flat(train, "answers")):
    prior.setdefault(question.tobytes(), []).append(int(answer))
  majority = {q: int(np.bincount(a).argmax()) for q, a in prior.items()}
  guess = np.array([majority.get(q.tobytes(), 0) for q in flat(test, "questions")])
  correct, kinds = guess == flat(test, "answers"), flat(test, "kinds")
  return {kind: float(correct[kinds == i].mean()) for i, kind in enumerate(QUESTION_KINDS)}


def other_scenes_accuracy(config, workdir: Path) -> dict[str, float]:
  """Test accuracy per question kind of the run finished in ``workdir`` (``config`` trained without
  the validation scenes) when each test scene's questions come with the next test scene's image."""
  config = copy.deepcopy(config)
  config.dataset.evaluate_on = "test"
  train, test = build_datasets(config.dataset)
  moved = dataclasses.replace(test, images=np.roll(test.images, 1, axis=0))
  task = relational_task.from_config(config, Data(train, moved), runs=None)
  parallel = DataParallel(config.parallel)
  variables = load_variables(workdir)  # Evaluation reads the variables only: no optimiser state.
  state = parallel.replicate(TrainState(step=jnp.zeros((), jnp.int32), params=variables["params"],
                                        batch_stats=variables["batch_stats"], opt_state=None,
                                        rng=jnp.zeros((2,), jnp.uint32)))
  metrics = {k: v for e in task.evaluators(moved, batch_size=config.eval_batch_size, parallel=parallel)
             for k, v in e.run(state).items()}
  return {f"{kind}_other_scenes": metrics[f"eval/accuracy_{kind}"] for kind in QUESTION_KINDS}


VAL_FRACTION = 0.1


def run(seeds: int, scale: str, out: Path, smoke: bool, lrs=(None,)) -> list[dict]:
  """Seed-major, so a stopped sweep has every learning rate of its first seeds."""
  rows, runs = [], {}  # runs: (model, LR, seed) -> (config, workdir), for the image control.
  for seed in range(seeds):
    config = load_config("sort_of_clevr_rn", f"smoke={smoke},seed={seed},scale={scale}")
    config.dataset.val_fraction = VAL_FRACTION  # The prior sees the scenes the models train on.
    rows.append({"model": "question_only", "seed": seed, "epochs": 0, **question_only_accuracy(config),
                 "curve": []})
    for model in KINDS:
      for lr in lrs:
        config = load_config("sort_of_clevr_rn", f"smoke={smoke},seed={seed},model={model},scale={scale}")
        config.progress = False
        config.dataset.val_fraction = VAL_FRACTION  # As fit_validated trains it: the control rebuilds it.
        if lr is not None:
          config.optim.lr = lr
        workdir = out / f"{model}_lr{config.optim.lr:g}_seed{seed}"
        validation, final = fit_validated(config, workdir, VAL_FRACTION)
        curve = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
        curve = [r for r in curve if "eval/accuracy_relational" in r]
        rows.append({"model": model, "lr": config.optim.lr, "seed": seed, "epochs": config.train.num_epochs,
                     "val_accuracy": validation["eval/accuracy"],
                     **{k: final[f"eval/accuracy_{k}"] for k in QUESTION_KINDS},
                     "curve": [{"epoch": r["epoch"], **{k: r[f"eval/accuracy_{k}"] for k in QUESTION_KINDS}}
                               for r in curve]})
        runs[model, config.optim.lr, seed] = config, workdir
  for model in KINDS:  # The image control, on the runs of the learning rate chosen on validation.
    chosen = chosen_on_validation([r for r in rows if r["model"] == model], "lr")
    for row in rows:
      if row["model"] == model and row["lr"] == chosen:
        row.update(other_scenes_accuracy(*runs[model, chosen, row["seed"]]))
  return rows


def report(rows: list[dict], out: Path) -> str:
  """The page's table (validation and test accuracy per model and LR), each model's LR chosen on
  validation, and ``curves.png``: the validation curves of the chosen LRs."""
  chosen = {model: chosen_on_validation([r for r in rows if r["model"] == model], "lr") for model in KINDS
            if any(r["model"] == model for r in rows)}
  fig = Figure(figsize=(8, 3.2))
  for ax, kind in zip(fig.subplots(1, 2), QUESTION_KINDS):
    for model, lr in chosen.items():
      for r in (r for r in rows if r["model"] == model and r["lr"] == lr):
        ax.plot([c["epoch"] for c in r["curve"]], [100 * c[kind] for c in r["curve"]],
                color="C0" if model == "rn" else "C1", alpha=0.7,
                label=f"{NAMES[model]}, LR {lr:g}" if r["seed"] == 0 else None)
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title=f"{kind} questions")
    ax.legend()
  save_figure(fig, out / "curves.png", dpi=120)
  return ("Chosen on validation: " + ", ".join(f"{NAMES[m]} LR {lr:g}" for m, lr in chosen.items())
          + "\n\n" + TABLES["relational"](rows) + "\n")


def main(args, out: Path) -> None:
  try:
    lrs = [float(v) for v in args.lrs] or [None]
  except ValueError:
    raise ValueError(f"--lrs must be a comma-separated list of numbers, got {args.lrs}") from None
  rows = run(args.seeds, args.scale, out, args.smoke, lrs)
  save_results(out, rows, report(rows, out))


if __name__ == "__main__":
  run_script("relational", main, scale=Option("cpu", "The recipe's scale.", choices=("cpu", "full")),
             lrs=Option([], "Learning rates, each model's chosen on validation (default: the recipe's)."))
