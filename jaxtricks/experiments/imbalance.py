"""Imbalance methods on long-tailed digits: every ``configs/digits_lt_*.py`` recipe × imbalance × seed.

  python -m jaxtricks.experiments.imbalance --seeds=10 --imbalance=10,50,100 --out=results/imbalance

Seed s trains with ``seed=s`` on the split drawn with ``dataset.split_seed=s`` (which digits are test
digits and which training digits the long tail keeps), so the spread over seeds includes the split's.
``--epochs`` trains every recipe for that many epochs instead of its own (its LR decay epochs scaled
alike): e.g. logit adjustment alone at the 80 epochs of its mixup variant.

Writes ``results.md`` (balanced test accuracy mean ± std, and accuracy on the many-/medium-/few-shot
thirds of the classes ordered by training count) and ``results.png`` into ``--out``; each run keeps its
workdir there, so an interrupted sweep resumes. M2m reuses the ERM run of the same imbalance and seed
as its generator g.
"""

import json
from pathlib import Path

import numpy as np
import tqdm
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.svm import SVC

from jaxtricks.data import build_datasets
from jaxtricks.experiments.common import (Option, fit_and_release, mean_std, run_script, sample_std,
                                         save_figure, save_results)
from jaxtricks.paths import as_path
from jaxtricks.training.config import load_config

# Classical baselines on the same split and pixels (flattened, standardised), class-balanced weights.
SKLEARN = {"sklearn_svc": lambda: SVC(class_weight="balanced"),
           "sklearn_logreg": lambda: LogisticRegression(class_weight="balanced", max_iter=5000)}
METHODS = ("erm", "cb_softmax", "cb_sigmoid", "cb_focal", "oversample", "smote", "drw", "m2m", "logit_adjust",
           "erm_mixup", "logit_adjust_mixup") + tuple(SKLEARN)



def shot_accuracies(per_class_recall, train_counts) -> dict[str, float]:
  """Mean recall over the many-, medium- and few-shot thirds of the classes (by training count)."""
  order = np.argsort(-np.asarray(train_counts), kind="stable")
  recall = np.asarray(per_class_recall)
  return {name: float(np.mean(recall[part]))
          for name, part in zip(("many", "medium", "few"), np.array_split(order, 3))}


def recipe(method: str, arg: str, seed: int, epochs: int = 0):
  """``configs/digits_lt_<method>.py`` at ``arg``, on split ``seed``, for ``epochs`` (0: its own)."""
  config = load_config(f"digits_lt_{method}", arg)
  config.progress = False
  config.dataset.split_seed = seed
  if epochs:
    scale = epochs / config.train.num_epochs
    config.optim.decay_epochs = tuple(round(e * scale) for e in config.optim.decay_epochs)
    config.train.num_epochs = epochs
  return config


def sklearn_baseline(method: str, arg: str, seed: int) -> dict[str, float]:
  """Balanced accuracy and per-third recall of a scikit-learn classifier on the recipe's split."""
  train, test = build_datasets(recipe("erm", arg, seed).dataset)
  model = SKLEARN[method]().fit(train.images.reshape(len(train), -1), train.labels)
  recall = recall_score(test.labels, model.predict(test.images.reshape(len(test), -1)), average=None)
  return {"balanced_accuracy": float(np.mean(recall)),
          **shot_accuracies(recall, np.bincount(train.labels, minlength=train.num_classes))}


def run(methods, imbalances, seeds, out: Path, smoke: bool, epochs: int = 0) -> list[dict]:
  rows = []
  jobs = [(m, f, s) for f in imbalances for s in range(seeds) for m in methods]
  folder = "" if not epochs else f"_{epochs}epochs"
  for method, imbalance, seed in tqdm.tqdm(jobs, desc="runs", unit="run"):
    workdir = out / f"if{imbalance:g}{folder}" / f"{method}_seed{seed}"
    arg = ",".join(filter(None, ["smoke" if smoke else "", f"seed={seed}", f"imbalance={imbalance}"]))
    key = {"method": method, "imbalance": imbalance, "seed": seed}
    if method in SKLEARN:
      rows.append({**key, **sklearn_baseline(method, arg, seed)})
      continue
    config = recipe(method, arg, seed, epochs)
    if method == "m2m" and "erm" in methods:
      config.m2m.generator_workdir = str(out / f"if{imbalance:g}{folder}" / f"erm_seed{seed}")
    final = fit_and_release(config, workdir)
    rows.append({**key, "epochs": config.train.num_epochs,
                 "balanced_accuracy": final["eval/balanced_accuracy"],
                 **shot_accuracies(final["eval/per_class_recall"], final["train_class_counts"]),
                 **({"m2m_accepted": m2m_acceptance(workdir)} if method == "m2m" else {})})
  return rows


def m2m_acceptance(workdir: Path) -> float:
  """The share of M2m's generation slots whose translation was accepted, averaged over the logged
  training steps of the run in ``workdir`` (from the generation epoch on)."""
  logged = [json.loads(line) for line in (as_path(workdir) / "metrics.jsonl").read_text().splitlines()]
  return float(np.mean([r["train/m2m_accepted"] for r in logged if "train/m2m_accepted" in r]))


def write_report(rows: list[dict], out: Path) -> str:
  methods = list(dict.fromkeys(r["method"] for r in rows))
  imbalances = sorted({r["imbalance"] for r in rows})
  lines = ["Balanced test accuracy (%, mean ± std over seeds) on long-tailed digits:", "",
           "| method | " + " | ".join(f"IF={f:g}" for f in imbalances) + " |",
           "|---|" + "---|" * len(imbalances)]
  for m in methods:
    lines.append(f"| {m} | " + " | ".join(
        mean_std([r["balanced_accuracy"] for r in rows if r["method"] == m and r["imbalance"] == f])
        for f in imbalances) + " |")
  for f in imbalances:
    lines += ["", f"IF={f:g}: accuracy (%) on the many / medium / few-shot thirds of the classes:", "",
              "| method | many | medium | few |", "|---|---|---|---|"]
    for m in methods:
      sel = [r for r in rows if r["method"] == m and r["imbalance"] == f]
      lines.append(f"| {m} | " + " | ".join(mean_std([r[k] for r in sel]) for k in ("many", "medium", "few"))
                   + " |")
  report = "\n".join(lines) + "\n"
  save_results(out, rows, report, echo=False)

  fig = Figure(figsize=(7, 4))
  ax = fig.subplots()
  width = 0.8 / len(methods)
  for i, m in enumerate(methods):
    means = [np.mean([r["balanced_accuracy"] for r in rows if r["method"] == m and r["imbalance"] == f])
             for f in imbalances]
    stds = [sample_std([r["balanced_accuracy"] for r in rows if r["method"] == m and r["imbalance"] == f])
            for f in imbalances]
    ax.bar(np.arange(len(imbalances)) + i * width, means, width, yerr=stds, label=m, capsize=2)
  ax.set_xticks(np.arange(len(imbalances)) + 0.4 - width / 2)
  ax.set_xticklabels([f"IF={f:g}" for f in imbalances])
  ax.set_ylabel("balanced test accuracy")
  ax.set_ylim(0.5, 1.0)
  ax.legend(fontsize=7, ncol=4, loc="lower left")
  ax.set_title("long-tailed digits, SmallCNN")
  save_figure(fig, out / "results.png", dpi=100)
  return report


def main(args, out: Path) -> None:
  rows = run(args.methods, [float(f) for f in args.imbalance], args.seeds, out, args.smoke, args.epochs)
  print(write_report(rows, out))


if __name__ == "__main__":
  run_script("imbalance", main,
             imbalance=Option(["10", "50", "100"], "Imbalance factors."),
             epochs=Option(0, "Train every recipe for this many epochs (0: each recipe's own)."),
             methods=Option(list(METHODS), "Methods (digits_lt_<method>.py).", choices=METHODS))
