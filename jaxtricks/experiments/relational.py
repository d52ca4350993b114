"""Relation Network vs CNN+MLP on Sort-of-CLEVR: accuracy on relational and non-relational questions.

  python -m jaxtricks.experiments.relational --seeds=3 --out=results/relational

Runs ``configs/sort_of_clevr_rn.py`` for both models and each seed (``--scale=full`` for the
reference's setting on an accelerator) and writes ``results.md``, ``results.jsonl`` and
``curves.png`` (test accuracy per question kind over epochs). Runs keep their workdirs, so a sweep
resumes. Each seed also gets the question-only prior's row: the training scenes' most frequent answer
to each distinct question, what a model that ignores the image can reach.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from jaxtricks.data import build_datasets
from jaxtricks.experiments.common import (Option, fit_and_release, mean_std, run_script, save_figure,
                                         save_results)
from jaxtricks.models.relational import KINDS
from jaxtricks.training.config import load_config

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


def run(seeds: int, scale: str, out: Path, smoke: bool) -> list[dict]:
  rows = []
  for seed in range(seeds):
    config = load_config("sort_of_clevr_rn", f"smoke={smoke},seed={seed},scale={scale}")
    rows.append({"model": "question_only", "seed": seed, "epochs": 0, **question_only_accuracy(config),
                 "curve": []})
  for model in KINDS:
    for seed in range(seeds):
      config = load_config("sort_of_clevr_rn", f"smoke={smoke},seed={seed},model={model},scale={scale}")
      config.progress = False
      workdir = out / f"{model}_seed{seed}"
      final = fit_and_release(config, workdir)
      curve = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
      curve = [r for r in curve if "eval/accuracy" in r]
      rows.append({"model": model, "seed": seed, "epochs": config.train.num_epochs,
                   **{k: final[f"eval/accuracy_{k}"] for k in QUESTION_KINDS},
                   "curve": [{"epoch": r["epoch"], **{k: r[f"eval/accuracy_{k}"] for k in QUESTION_KINDS}}
                             for r in curve]})
  return rows


def report(rows: list[dict], out: Path) -> str:
  seeds = len({r["seed"] for r in rows})
  lines = [f"Test accuracy (%) on 200 scenes × 20 questions, mean ± std over {seeds} seeds:", "",
           "| model | epochs | relational | non-relational |", "|---|---|---|---|"]
  for model in dict.fromkeys(r["model"] for r in rows):
    picked = [r for r in rows if r["model"] == model]
    cells = [mean_std([r[k] for r in picked]) for k in ("relational", "nonrelational")]
    lines.append(f"| {NAMES[model]} | {picked[0]['epochs']} | {cells[0]} | {cells[1]} |")
  fig = Figure(figsize=(8, 3.2))
  for ax, kind in zip(fig.subplots(1, 2), QUESTION_KINDS):
    for model in KINDS:
      for r in (r for r in rows if r["model"] == model):
        ax.plot([c["epoch"] for c in r["curve"]], [100 * c[kind] for c in r["curve"]],
                color="C0" if model == "rn" else "C1", alpha=0.7,
                label=NAMES[model] if r["seed"] == 0 else None)
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"{kind} questions")
    ax.legend()
  save_figure(fig, out / "curves.png", dpi=120)
  return "\n".join(lines) + "\n"


def main(args, out: Path) -> None:
  rows = run(args.seeds, args.scale, out, args.smoke)
  save_results(out, rows, report(rows, out))


if __name__ == "__main__":
  run_script("relational", main, scale=Option("cpu", "The recipe's scale.", choices=("cpu", "full")))
