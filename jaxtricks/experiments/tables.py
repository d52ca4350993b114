"""The tables of ``docs/results.md`` that summarise each data file's per-seed rows
(``docs/data/<name>.jsonl``), and the helpers that format them: mean ± sample std over seeds."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from jaxtricks.experiments.common import mean_std
from jaxtricks.experiments.selfsup_open_set import open_set_label


def summary_table(rows: Sequence[dict], by: Sequence[str], columns: dict[str, str],
                  label: Callable[[dict], str] | None = None, scale: float = 100.0, digits: int = 1) -> str:
  """A row per distinct ``by`` value (in first-seen order): seeds and mean ± std (× ``scale``) of each
  column."""
  keys = list(dict.fromkeys(tuple(r.get(k) for k in by) for r in rows))
  label = label or (lambda r: ", ".join(f"{r[k]}" for k in by if k in r))
  lines = ["| " + " | ".join([" / ".join(by), "seeds", *columns]) + " |", "|---" * (len(columns) + 2) + "|"]
  for key in keys:
    group = [r for r in rows if tuple(r.get(k) for k in by) == key]
    cells = [mean_std([r[f] for r in group if f in r], scale=scale, digits=digits)
             if any(f in r for r in group) else "" for f in columns.values()]
    diverged = sum(r.get("diverged", False) for r in group)
    seeds = f"{len(group)} ({diverged} diverged)" if diverged else str(len(group))
    lines.append("| " + " | ".join([label(group[0]), seeds, *cells]) + " |")
  return "\n".join(lines)


def curve_table(rows: Sequence[dict], by: str, x: str, metric: str) -> str:
  """Learning curves: a row per ``by`` value, a column per ``x`` value, mean ± std of ``metric``."""
  xs = sorted({r[x] for r in rows})
  lines = [f"| {by} | " + " | ".join(str(v) for v in xs) + " | mean |", "|---" * (len(xs) + 2) + "|"]
  for key in dict.fromkeys(r[by] for r in rows):
    group = [r for r in rows if r[by] == key]
    seeds = sorted({r["seed"] for r in group})
    per_seed = [np.mean([r[metric] for r in group if r["seed"] == s]) for s in seeds]
    lines.append(f"| {key} | " + " | ".join(mean_std([r[metric] for r in group if r[x] == v]) for v in xs)
                 + f" | {mean_std(per_seed)} |")
  return "\n".join(lines)


def long_tail_table(rows: Sequence[dict], by: Sequence[str]) -> str:
  """Balanced test accuracy and its many / medium / few-shot parts, by ``by`` (IF first when given)."""
  label = (lambda r: f"IF={r['imbalance']:g}, {r['method']}") if "imbalance" in by else None
  return summary_table(rows, by, {"balanced test accuracy (%)": "balanced_accuracy", "many-shot (%)": "many",
                                  "medium-shot (%)": "medium", "few-shot (%)": "few"}, label=label)


def mmoe_table(rows: Sequence[dict]) -> str:
  return summary_table(rows, ("model", "rho"), {"test loss (MSE 1 + MSE 2)": "loss"},
                       label=lambda r: f"{r['model']}, ρ = {r['rho']:g}", scale=1, digits=4)


TABLES: dict[str, Callable[[list[dict]], str]] = {  # By data file: docs/data/<name>.jsonl.
    "bag_of_tricks": lambda rows: summary_table(
        rows, ("row",), {"validation balanced accuracy (%)": "val_accuracy",
                         "balanced test accuracy (%)": "balanced_accuracy"}),
    "distillation": lambda rows: summary_table(rows, ("method", "metric"),
                                               {"test accuracy or Recall@1 (%)": "value"}),
    "imbalance": lambda rows: long_tail_table(rows, ("imbalance", "method")),
    "imbalance_80_epochs": lambda rows: long_tail_table(rows, ("imbalance", "method")),
    "open_set": lambda rows: summary_table(
        rows, ("method", "temperature"),
        {"validation accuracy (%)": "val_accuracy", "AUROC (%)": "auroc",
         "closed-set accuracy (%)": "accuracy", "OSCR (%)": "oscr"}, label=open_set_label),
    "self_distillation": lambda rows: summary_table(rows, ("generation",), {"test accuracy (%)": "accuracy"}),
    "sla": lambda rows: summary_table(
        rows, ("method",), {"test accuracy (%)": "accuracy", "single inference (%)": "accuracy_single",
                            "aggregated (%)": "accuracy_aggregated"}),
    "dim": lambda rows: summary_table(rows, ("method",), {"linear-probe test accuracy (%)": "accuracy"}),
    "imbalance_resampling": lambda rows: long_tail_table(rows, ("method",)),
    "m2m_filters": lambda rows: summary_table(
        rows, ("imbalance", "setting"),
        {"seed passes β (%, rarest three)": "beta_pass", "seed passes β (%, all)": "beta_pass_all",
         "median softmax(g(x*))[k] (%)": "target_prob", "passes γ = 0.9 (%)": "confident",
         "median ‖x* − x0‖ / ‖x0‖ (%)": "move"}, label=lambda r: f"IF={r['imbalance']:g}, {r['setting']}"),
    "active": lambda rows: curve_table(rows, "strategy", "num_labelled", "test_accuracy"),
    "nonrobust": lambda rows: summary_table(
        rows, ("method", "epsilon"),
        {"ε / mean ‖x‖ (%)": "relative_epsilon", "clean test accuracy (%)": "accuracy",
         "targeted attack success (%)": "attack_success"}),
    "mmoe": mmoe_table,
    "mmoe_tiny": mmoe_table,
    "transfer": lambda rows: summary_table(
        rows, ("budget", "method"), {"test accuracy, digits 5–9 (%)": "accuracy"},
        label=lambda r: f"{r['budget']} per class, {r['method']}" if r["budget"] else f"all, {r['method']}"),
    "aux_heads": lambda rows: summary_table(rows, ("method",), {"test accuracy (%)": "accuracy"}),
    "relational": lambda rows: summary_table(
        rows, ("model", "lr"),
        {"validation, all questions (%)": "val_accuracy", "test relational (%)": "relational",
         "test non-relational (%)": "nonrelational",
         "relational, next scene's image (%)": "relational_other_scenes",
         "non-relational, next scene's image (%)": "nonrelational_other_scenes"}),
    "infogan": lambda rows: summary_table(
        rows, ("info_weight",),
        {"Q on real digits (%)": "code_accuracy_real", "Q, codes shuffled (%)": "code_accuracy_real_chance",
         "generated samples (%)": "code_accuracy_generated",
         "generated, codes shuffled (%)": "code_accuracy_generated_chance"}),
    "pseudo_label_ramp": lambda rows: summary_table(rows, ("method",), {"test accuracy (%)": "accuracy"}),
    "few_labels": lambda rows: summary_table(
        rows, ("fraction", "method"), {"test accuracy (%)": "accuracy"},
        label=lambda r: f"{100 * r['fraction']:g} % labelled, {r['method']}"),
    "robust_features": lambda rows: summary_table(
        rows, ("row",), {"clean (%)": "accuracy", "robust, L2 ε = 0.5 (%)": "robust_accuracy"}),
}
