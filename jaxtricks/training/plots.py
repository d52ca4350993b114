"""Plots of a run's ``metrics.jsonl``: learning curves and per-class recall."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from jaxtricks.paths import as_path


def read_metrics(workdir: str | Path) -> list[dict]:
  """All records of ``workdir/metrics.jsonl``, in order."""
  with as_path(workdir).joinpath("metrics.jsonl").open() as f:
    return [json.loads(line) for line in f if line.strip()]


def plot_learning_curves(records: list[dict], ax=None):
  """Training loss and the test metrics (accuracy, balanced accuracy or Recall@1) against the step."""
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 4))
  train = [r for r in records if "train/loss" in r]
  keys = [k for k in ("eval/accuracy", "eval/balanced_accuracy", "eval/recall@1")
          if any(k in r for r in records)]
  ax.plot([r["step"] for r in train], [r["train/loss"] for r in train], label="train loss", color="C0")
  ax.set_xlabel("step")
  ax.set_ylabel("loss")
  acc_ax = ax.twinx()
  for key, color in zip(keys, ("C1", "C2", "C3")):
    evals = [r for r in records if key in r]
    acc_ax.plot([r["step"] for r in evals], [r[key] for r in evals], "o-", color=color,
                label=key.replace("eval/", "test "))
  acc_ax.set_ylabel("test metric")
  acc_ax.set_ylim(0, 1)
  lines = ax.get_legend_handles_labels()[0] + acc_ax.get_legend_handles_labels()[0]
  ax.legend(lines, [line.get_label() for line in lines], loc="center right")
  return ax


def plot_per_class_recall(recall, counts=None, ax=None):
  """Bar chart of the test recall of every class, optionally annotated with its training count."""
  if ax is None:
    _, ax = plt.subplots(figsize=(6, 3))
  recall = np.asarray(recall, float)
  ax.bar(np.arange(len(recall)), recall, color="C2")
  ax.set_xticks(np.arange(len(recall)))
  if counts is not None:
    ax.set_xticklabels([f"{c}\n(n={n})" for c, n in enumerate(counts)], fontsize=7)
  ax.set_xlabel("class")
  ax.set_ylabel("test recall")
  ax.set_ylim(0, 1)
  return ax


def plot_seed_bars(values: dict[str, np.ndarray], ax, *, colors=None, margin: float = 3.0):
  """One bar per entry of ``values`` (name → per-seed results): the mean with a ± sample-std (ddof = 1)
  error bar and the seeds as dots; the y axis runs from just below the lowest seed to 100."""
  names = list(values)
  arrays = [np.asarray(values[n], float) for n in names]
  spread = [a.std(ddof=1) if len(a) > 1 else 0.0 for a in arrays]
  ax.bar(range(len(names)), [a.mean() for a in arrays], yerr=spread, capsize=3, color=colors)
  for i, a in enumerate(arrays):
    ax.plot(np.full(len(a), i), a, "k.", ms=4)
  ax.set_xticks(range(len(names)))
  ax.set_xticklabels(names, rotation=30, ha="right", rotation_mode="anchor", fontsize=8)
  ax.set_ylim(max(0.0, min(a.min() for a in arrays) - margin), 100)
  return ax


def _save(fig: Figure, path) -> None:
  with path.open("wb") as f:  # Through epath: the workdir may be a URL.
    fig.savefig(f, format="png", dpi=100)


def save_run_plots(workdir: str | Path, train_counts=None) -> list[Path]:
  """Writes ``curves.png`` and ``per_class_recall.png`` into ``workdir`` (a path or a URL); returns
  their paths."""
  workdir = as_path(workdir)
  records = read_metrics(workdir)
  paths = []
  # Figure objects (not pyplot) draw off-screen without touching the caller's matplotlib backend.
  fig = Figure(figsize=(6, 4))
  plot_learning_curves(records, fig.subplots())
  fig.tight_layout()
  _save(fig, workdir / "curves.png")
  paths.append(workdir / "curves.png")
  evals = [r for r in records if "eval/per_class_recall" in r]
  if evals:
    fig = Figure(figsize=(6, 3))
    plot_per_class_recall(evals[-1]["eval/per_class_recall"], train_counts, fig.subplots())
    fig.tight_layout()
    _save(fig, workdir / "per_class_recall.png")
    paths.append(workdir / "per_class_recall.png")
  return paths
