"""The claims table and the tables of ``docs/results.md``, regenerated from the committed per-seed rows.

  python -m jaxtricks.experiments.claims           # rewrites the generated blocks of docs/results.md
  python -m jaxtricks.experiments.claims --check   # exits 1 naming the blocks that differ

Each reproduction command writes its per-seed rows with ``--record=docs/data/<name>.jsonl``. Here every
claim is a method compared with its control on the same seeds: a filter of those rows each, the metric
and the claimed direction, judged by :func:`jaxtricks.experiments.stats.paired` (the rule is copied
from that module's docstring to the top of the page). A hyper-parameter that a method's arm leaves open
(``Arm.select``, e.g. the RPL temperature) is chosen on validation accuracy, the mean over seeds of the
rows' ``val_accuracy``; only the chosen value's test metric enters the claim.

A generated block of the page sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``;
the text around the blocks is written by hand.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
from absl import app, flags

from jaxtricks.experiments import stats
from jaxtricks.experiments.bag_of_tricks import STACK
from jaxtricks.experiments.common import mean_std
from jaxtricks.experiments.tables import TABLES

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "results.md"
DATA = REPO / "docs" / "data"


@dataclasses.dataclass(frozen=True)
class Arm:
  """One side of a claim: the rows of its data file whose fields equal ``where``. ``select`` names a
  field left open: the value with the best mean ``val_accuracy`` is used (among ``among`` when given,
  e.g. the rows a default recipe may be). ``mean_over``: a seed's rows
  differing in that field are averaged (e.g. the accuracy over active-learning rounds). ``minus``: the
  rows matching it (same seed) are subtracted, e.g. a gain over ERM. ``constant``: a fixed control
  (chance) on every seed of the other arm; ``where`` is then empty. ``data`` / ``metric``: the arm's
  own file and field, when they are not the claim's (the same seeds of another experiment)."""
  label: str
  where: dict
  select: str | None = None
  among: tuple | None = None
  mean_over: str | None = None
  minus: dict | None = None
  constant: float | None = None
  data: str | None = None
  metric: str | None = None


@dataclasses.dataclass(frozen=True)
class Claim:
  """``method`` is better (``direction=1``) or lower (−1) than ``control`` in ``metric``, paired by
  seed, on the rows of ``docs/data/<data>.jsonl``; printed × ``scale`` with ``digits`` decimals."""
  paper: str
  claim: str
  data: str
  metric: str
  method: Arm
  control: Arm
  direction: int = 1
  scale: float = 100.0
  digits: int = 1


def load_rows(name: str, data_dir: Path = DATA) -> list[dict]:
  """The rows of ``data_dir/<name>.jsonl``."""
  path = data_dir / f"{name}.jsonl"
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def matching(rows: Sequence[dict], where: dict) -> list[dict]:
  return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


def chosen_on_validation(rows: Sequence[dict], field: str) -> object:
  """The value of ``field`` whose rows have the highest mean ``val_accuracy`` (ties: the first in sorted
  order); a value whose training diverged on some seed (``diverged`` rows) is not a candidate."""
  failed = {r[field] for r in rows if r.get("diverged")}
  values = sorted({r[field] for r in rows} - failed)
  if not values:
    raise ValueError(f"no rows to choose {field} from")
  return max(values, key=lambda v: np.mean([r["val_accuracy"] for r in rows if r[field] == v]))


def arm_values(rows: Sequence[dict], arm: Arm, metric: str) -> tuple[dict[int, float], str]:
  """``({seed: value}, description of the choice)`` of ``arm``."""
  picked = matching(rows, arm.where)
  note = ""
  if arm.select:
    candidates = [r for r in picked if arm.among is None or r[arm.select] in arm.among]
    value = chosen_on_validation(candidates, arm.select)
    picked = [r for r in picked if r[arm.select] == value]
    note = f" ({arm.select} = {value:g}, chosen on validation)" if isinstance(value, float) else \
        f" ({value}, chosen on validation)"
  if any(r.get("diverged") for r in picked):
    raise ValueError(f"{arm.label}: training diverged on some of the seeds of {arm.where}")
  seeds = sorted({r["seed"] for r in picked})
  per_seed = {s: [r for r in picked if r["seed"] == s] for s in seeds}
  for s, rs in per_seed.items():  # One row per seed, or one per value of the averaged field.
    if len(rs) > 1 and (not arm.mean_over or len({r[arm.mean_over] for r in rs}) != len(rs)):
      raise ValueError(f"{arm.label}: seed {s} has {len(rs)} rows matching {arm.where}"
                       + (f" that do not differ in {arm.mean_over}" if arm.mean_over else ""))
  values = {s: float(np.mean([r[metric] for r in rs])) for s, rs in per_seed.items()}
  if arm.minus is not None:
    base = {r["seed"]: r[metric] for r in matching(rows, arm.minus)}
    values = {s: v - base[s] for s, v in values.items() if s in base}
  return values, note


# What each stack row adds, in a claim's words (a row missing here fails at import).
STACK_TRICKS = {"+ warm-up and Nesterov": "warm-up with Nesterov momentum", "+ zero-γ": "zero-γ",
                "+ no bias decay": "no bias decay", "+ ResNet-D": "ResNet-D", "+ cosine": "cosine",
                "+ label smoothing": "label smoothing", "+ mixup": "mixup",
                STACK[-1][0]: "logit adjustment in place of label smoothing"}
STACK_ROWS = (STACK[-2][0], STACK[-1][0])  # The bag_of_tricks rows a default recipe may be: the two
# full stacks (the paper's, through mixup, and ours for the long tail).


CLAIMS = (
    Claim("Bag of Tricks (He et al., 2019)", "the stacked tricks beat plain training (IF=10)",
          "bag_of_tricks", "balanced_accuracy", Arm("the stack", {}, select="row", among=STACK_ROWS),
          Arm("baseline", {"row": "baseline"})),
    Claim("Bag of Tricks (He et al., 2019)", "the paper's stack, through mixup, beats plain training (IF=10)",
          "bag_of_tricks", "balanced_accuracy", Arm("the stack through mixup", {"row": "+ mixup"}),
          Arm("baseline", {"row": "baseline"})),
    Claim("Bag of Tricks (He et al., 2019)", "warm-up, zero-γ, no bias decay, ResNet-D and cosine together "
          "beat plain training (IF=10)", "bag_of_tricks", "balanced_accuracy",
          Arm("+ cosine", {"row": "+ cosine"}), Arm("baseline", {"row": "baseline"})),
    *(Claim("Bag of Tricks (He et al., 2019)", f"{STACK_TRICKS[row]} adds to the rows above it (IF=10)",
            "bag_of_tricks", "balanced_accuracy", Arm(row, {"row": row}), Arm(above, {"row": above}))
      for (above, _), (row, _) in zip(STACK, STACK[1:])),
    Claim("PReLU (He et al., 2015)", "PReLU beats ReLU (the whole stack, IF=10)", "bag_of_tricks",
          "balanced_accuracy", Arm("PReLU", {"row": "all with PReLU"}),
          Arm("ReLU", {"row": STACK[-1][0]})),
    Claim("Bag of Tricks (He et al., 2019)", "distillation adds to the whole stack (IF=10)", "bag_of_tricks",
          "balanced_accuracy", Arm("distillation", {"row": "all + distillation"}),
          Arm("no teacher", {"row": STACK[-1][0]})),
    Claim("Hinton KD (2015)", "a distilled student beats the student alone", "distillation", "value",
          Arm("KD student", {"method": "kd"}), Arm("student alone", {"method": "student"})),
    *(Claim("Relational KD (Park et al., 2019)", f"{label} beats the student alone", "distillation", "value",
            Arm(label, {"method": method}), Arm("student alone", {"method": "student"}))
      for label, method in (("RKD-D", "rkd_d"), ("RKD-A", "rkd_a"), ("RKD-DA", "rkd_da"))),
    Claim("Relational KD (Park et al., 2019)", "RKD-DA adds to KD", "distillation", "value",
          Arm("KD + RKD-DA", {"method": "kd_rkd"}), Arm("KD", {"method": "kd"})),
    Claim("Relational KD (Park et al., 2019)", "a label-free RKD student beats its metric teacher (Recall@1)",
          "distillation", "value", Arm("RKD student", {"method": "metric_rkd"}),
          Arm("triplet teacher", {"method": "metric_teacher"})),
    Claim("Relational KD (Park et al., 2019)",
          "a label-free RKD student beats the same student trained with labels (Recall@1)", "distillation",
          "value", Arm("RKD student", {"method": "metric_rkd"}),
          Arm("triplet student", {"method": "metric_student"})),
    *(Claim("Class-Balanced loss (Cui et al., 2019)", f"CB focal beats the plain loss (IF={f:g})",
            "imbalance", "balanced_accuracy", Arm("CB focal", {"method": "cb_focal", "imbalance": f}),
            Arm("ERM", {"method": "erm", "imbalance": f})) for f in (10.0, 100.0)),
    Claim("Class-Balanced loss (Cui et al., 2019)", "the gain grows with the imbalance (IF=100 vs 10)",
          "imbalance", "balanced_accuracy",
          Arm("CB focal − ERM at IF=100", {"method": "cb_focal", "imbalance": 100.0},
              minus={"method": "erm", "imbalance": 100.0}),
          Arm("CB focal − ERM at IF=10", {"method": "cb_focal", "imbalance": 10.0},
              minus={"method": "erm", "imbalance": 10.0})),
    *(Claim("logit adjustment (Menon et al., 2021)", f"beats CB re-weighting (IF={f:g})", "imbalance",
            "balanced_accuracy", Arm("logit adjustment", {"method": "logit_adjust", "imbalance": f}),
            Arm("CB focal", {"method": "cb_focal", "imbalance": f})) for f in (10.0, 50.0, 100.0)),
    *(Claim("mixup (Zhang et al., 2018)", f"adds to logit adjustment at equal epochs (80, IF={f:g})",
            "imbalance_80_epochs", "balanced_accuracy",
            Arm("logit adjustment + mixup", {"method": "logit_adjust_mixup", "imbalance": f}),
            Arm("logit adjustment", {"method": "logit_adjust", "imbalance": f})) for f in (50.0, 100.0)),
    Claim("RPL (Chen et al., 2020)", "open-set AUROC above max-softmax", "open_set", "auroc",
          Arm("RPL", {"method": "rpl"}, select="temperature"), Arm("max-softmax", {"method": "softmax"})),
    Claim("ARPL (Chen et al., 2021)", "open-set AUROC above max-softmax", "open_set", "auroc",
          Arm("ARPL", {"method": "arpl"}, select="temperature"), Arm("max-softmax", {"method": "softmax"})),
    Claim("self-distillation (Furlanello et al., 2018)", "generation 1 beats its teacher (generation 0)",
          "self_distillation", "accuracy", Arm("generation 1", {"generation": 1}),
          Arm("generation 0", {"generation": 0})),
    Claim("self-distillation (Furlanello et al., 2018)",
          "generation 1 beats the same CNN trained alone with its seed", "self_distillation", "accuracy",
          Arm("generation 1", {"generation": 1}),
          Arm("CNN alone", {"method": "student"}, data="distillation", metric="value")),
    *(Claim(name, f"{label} beats ERM (IF=100)", "imbalance_resampling", "balanced_accuracy",
            Arm(label, {"method": method}), Arm("ERM", {"method": "erm"}))
      for name, label, method in (("re-sampling", "class-balanced over-sampling", "oversample"),
                                  ("SMOTE (Chawla et al., 2002)", "SMOTE", "smote"),
                                  ("DRW (Cao et al., 2019)", "deferred re-weighting", "drw"),
                                  ("M2m (Kim et al., 2020)", "M2m", "m2m"))),
    Claim("ALFA-Mix (Parvaneh et al., 2022)", "beats margin sampling at a low budget (40 labels)", "active",
          "test_accuracy", Arm("ALFA-Mix", {"strategy": "alfamix", "num_labelled": 40}),
          Arm("margin", {"strategy": "margin", "num_labelled": 40})),
    Claim("ALFA-Mix (Parvaneh et al., 2022)", "beats margin sampling over the whole curve", "active",
          "test_accuracy", Arm("ALFA-Mix, mean over rounds", {"strategy": "alfamix"}, mean_over="round"),
          Arm("margin, mean over rounds", {"strategy": "margin"}, mean_over="round")),
    Claim("ALFA-Mix (Parvaneh et al., 2022)", "beats random sampling at a low budget (40 labels)", "active",
          "test_accuracy", Arm("ALFA-Mix", {"strategy": "alfamix", "num_labelled": 40}),
          Arm("random", {"strategy": "random", "num_labelled": 40})),
    Claim("BALD (Gal et al., 2017)", "beats random sampling over the whole curve", "active", "test_accuracy",
          Arm("BALD, mean over rounds", {"strategy": "bald"}, mean_over="round"),
          Arm("random, mean over rounds", {"strategy": "random"}, mean_over="round")),
    Claim("BALD (Gal et al., 2017)",
          "skips classes: its rarest class has fewer labels than random's (180 labels)", "active",
          "fewest_labelled", Arm("BALD", {"strategy": "bald", "num_labelled": 180}),
          Arm("random", {"strategy": "random", "num_labelled": 180}), direction=-1, scale=1.0),
    *(Claim("Non-robust features (Ilyas et al., 2019)",
            f"D_{kind} teaches above chance (ε = {eps:g}, {share} of ‖x‖)", "nonrobust", "accuracy",
            Arm(f"trained on D_{kind}", {"method": kind, "epsilon": eps}), Arm("chance", {}, constant=0.1))
      for eps, share in ((1.0, "26 %"), (0.065, "1.7 %")) for kind in ("det", "rand")),
    *(Claim("Pseudo-labelling (Lee, 2013)",
            f"unlabelled digits with own labels help ({100 * f:g} % labelled)", "few_labels", "accuracy",
            Arm("pseudo-labelling", {"method": "pseudo_label", "fraction": f}),
            Arm("supervised", {"method": "supervised", "fraction": f})) for f in (0.05, 0.1)),
    *(Claim("Noisy Student (Xie et al., 2020)",
            f"generation {g} beats {f'generation {g - 1}' if g > 1 else 'its supervised teacher'} "
            f"({100 * f:g} % labelled)", "few_labels", "accuracy",
            Arm(f"generation {g}", {"method": f"noisy_student_{g}", "fraction": f}),
            Arm(f"generation {g - 1}" if g > 1 else "its supervised teacher",
                {"method": f"noisy_student_{g - 1}" if g > 1 else "supervised", "fraction": f}))
      for f in (0.05, 0.1) for g in (1, 2)),
    Claim("Pseudo-labelling (Lee, 2013)",
          "starting α's ramp late (epoch 5) beats ramping from the first step (10 % labelled)",
          "pseudo_label_ramp", "accuracy", Arm("ramp from epoch 5", {"method": "ramp_from_epoch_5"}),
          Arm("ramp from step 0", {"method": "ramp_from_step_0"})),
    *(Claim("RandAugment (Cubuk et al., 2020)", f"beats the 1-pixel crop ({100 * f:g} % labelled)",
            "few_labels", "accuracy", Arm("RandAugment", {"method": "supervised", "fraction": f}),
            Arm("crop only", {"method": "supervised_crop", "fraction": f})) for f in (0.05, 0.1)),
    *(Claim("MMoE (Ma et al., 2018)", f"MMoE's test loss is below {label}'s (ρ = 0.5)", "mmoe", "loss",
            Arm("MMoE", {"model": "mmoe", "rho": 0.5}), Arm(label, {"model": model, "rho": 0.5}),
            direction=-1, scale=1, digits=4)
      for label, model in (("OMoE", "omoe"), ("Shared-Bottom", "shared_bottom"))),
    *(Claim("MMoE (Ma et al., 2018)",
            f"with tiny experts (4 × 2 units), MMoE's loss is below {label}'s (ρ = 0.5)", "mmoe_tiny",
            "loss", Arm("MMoE", {"model": "mmoe", "rho": 0.5}),
            Arm(label, {"model": model, "rho": 0.5}), direction=-1, scale=1, digits=4)
      for label, model in (("OMoE", "omoe"), ("Shared-Bottom", "shared_bottom"))),
    Claim("MMoE (Ma et al., 2018)", "MMoE's gain over Shared-Bottom grows as the tasks' relatedness falls",
          "mmoe", "loss",
          Arm("Shared-Bottom − MMoE at ρ = 0.5", {"model": "shared_bottom", "rho": 0.5},
              minus={"model": "mmoe", "rho": 0.5}),
          Arm("Shared-Bottom − MMoE at ρ = 1", {"model": "shared_bottom", "rho": 1.0},
              minus={"model": "mmoe", "rho": 1.0}),
          scale=1, digits=4),
    Claim("InfoGAN (Chen et al., 2016)", "the information term makes the categorical code the digit class",
          "infogan", "code_accuracy_real", Arm("λ = 1", {"info_weight": 1.0}),
          Arm("λ = 0", {"info_weight": 0.0})),
    Claim("InfoGAN (Chen et al., 2016)", "the code's class accuracy is above its chance floor (λ = 1)",
          "infogan", "code_accuracy_real", Arm("λ = 1", {"info_weight": 1.0}),
          Arm("λ = 1, codes shuffled", {"info_weight": 1.0}, metric="code_accuracy_real_chance")),
    *(Claim("transfer learning", f"{label} beats training from scratch ({budget} images per class)",
            "transfer", "accuracy", Arm(label, {"method": method, "budget": budget}),
            Arm("from scratch", {"method": "scratch", "budget": budget}))
      for budget in (5, 20)
      for label, method in (("fine-tuning", "finetune"), ("a frozen backbone", "freeze"))),
    *(Claim("transfer learning", f"the source's frozen features beat a frozen random backbone ({size})",
            "transfer", "accuracy", Arm("frozen source backbone", {"method": "freeze", "budget": budget}),
            Arm("frozen random backbone", {"method": "freeze_random", "budget": budget}))
      for budget, size in ((5, "5 images per class"), (0, "all images"))),
    Claim("GoogLeNet (Szegedy et al., 2015)", "auxiliary heads help a little", "aux_heads", "accuracy",
          Arm("with auxiliary heads", {"method": "with_aux"}), Arm("without", {"method": "without_aux"})),
    Claim("Relation Networks (Santoro et al., 2017)", "the RN beats a CNN+MLP on relational questions",
          "relational", "relational", Arm("RN", {"model": "rn"}, select="lr"),
          Arm("CNN+MLP", {"model": "cnn_mlp"}, select="lr")),
    *(Claim("Relation Networks (Santoro et al., 2017)",
            f"{label} beats the question-only answer prior on relational questions", "relational",
            "relational", Arm(label, {"model": model}, select="lr"),
            Arm("question only", {"model": "question_only"}))
      for label, model in (("the RN", "rn"), ("the CNN+MLP", "cnn_mlp"))),
    *(Claim("Relation Networks (Santoro et al., 2017)",
            f"{label} reads the image: its relational answers fall when asked about another scene's image",
            "relational", "relational", Arm(label, {"model": model}, select="lr"),
            Arm("the next scene's image", {"model": model}, select="lr", metric="relational_other_scenes"))
      for label, model in (("the RN", "rn"), ("the CNN+MLP", "cnn_mlp"))),
    Claim("SLA (Lee et al., 2020)", "SLA with aggregated inference beats the baseline", "sla", "accuracy",
          Arm("SLA+AG", {"method": "sla"}), Arm("baseline", {"method": "baseline"})),
    Claim("SLA (Lee et al., 2020)", "the self-distilled single head beats the baseline", "sla", "accuracy",
          Arm("SLA+SD", {"method": "sla_sd"}), Arm("baseline", {"method": "baseline"})),
    *(Claim("SLA (Lee et al., 2020)", f"{label} with rotations hurts", "sla", "accuracy",
            Arm(label, {"method": mode}), Arm("baseline", {"method": "baseline"}), direction=-1)
      for label, mode in (("data augmentation (DA)", "da"), ("multi-task learning (MT)", "mt"))),
    Claim("Deep InfoMax (Hjelm et al., 2019)", "DIM (NCE) features beat a random encoder", "dim", "accuracy",
          Arm("NCE probe", {"method": "nce"}), Arm("random-encoder probe", {"method": "random"})),
    *(Claim("Deep InfoMax (Hjelm et al., 2019)", f"NCE beats {other.upper()}", "dim", "accuracy",
            Arm("NCE probe", {"method": "nce"}), Arm(f"{other.upper()} probe", {"method": other}))
      for other in ("jsd", "dv")),
    Claim("Robust features (Ilyas et al., 2019)", "D_R is more robust than the original digits",
          "robust_features", "robust_accuracy", Arm("D_R", {"row": "D_R"}),
          Arm("original digits", {"row": "standard"})),
    Claim("Robust features (Ilyas et al., 2019)", "D_R is more robust than D_NR", "robust_features",
          "robust_accuracy", Arm("D_R", {"row": "D_R"}), Arm("D_NR", {"row": "D_NR"})),
    Claim("Robust features (Ilyas et al., 2019)", "D_R costs clean accuracy", "robust_features", "accuracy",
          Arm("D_R", {"row": "D_R"}), Arm("original digits", {"row": "standard"}), direction=-1),
    Claim("adversarial training (Madry et al., 2018)", "raises robust accuracy (ε = 0.5)", "robust_features",
          "robust_accuracy", Arm("adversarial training", {"row": "adversarial"}),
          Arm("standard training", {"row": "standard"})),
    *(Claim("adversarial training (Madry et al., 2018)", f"costs clean accuracy (ε = {eps})",
            "robust_features", "accuracy", Arm("adversarial training", {"row": row}),
            Arm("standard training", {"row": "standard"}), direction=-1)
      for eps, row in (("0.5", "adversarial"), ("1", "adversarial_1"))),
)


def judge(claim: Claim, data_dir: Path = DATA,
          rows: dict[str, list[dict]] | None = None) -> tuple[stats.Paired, dict, dict, tuple[str, str]]:
  """``(paired result, method values, control values, (method's choice note, control's))`` of
  ``claim``, on the files of ``data_dir`` or on ``rows`` (by data name: a sweep judging its own rows)."""
  def values(arm):
    name = arm.data or claim.data
    return arm_values(rows[name] if rows is not None else load_rows(name, data_dir), arm,
                      arm.metric or claim.metric)
  method, note = values(claim.method)
  if claim.control.constant is not None:
    control, control_note = {s: claim.control.constant for s in method}, ""
  else:
    control, control_note = values(claim.control)
  return stats.paired(method, control, claim.direction), method, control, (note, control_note)


def claims_table(claims: Sequence[Claim] = CLAIMS, data_dir: Path = DATA,
                 rows: dict[str, list[dict]] | None = None) -> str:
  lines = ["| paper | claim | per-seed data | seeds | method | control | paired difference [95 % t] | "
           "bootstrap 95 % | verdict |", "|---|---|---|---|---|---|---|---|---|"]
  for c in claims:
    result, method, control, (note, control_note) = judge(c, data_dir, rows)
    seeds = sorted(set(method) & set(control))
    number = lambda v: f"{c.scale * v:+.{c.digits}f}"  # noqa: E731
    boot = "" if result.bootstrap is None else "[{}, {}]".format(*map(number, result.bootstrap))
    spread = lambda values: mean_std([values[s] for s in seeds], scale=c.scale, digits=c.digits)  # noqa: E731
    lines.append(f"| {c.paper} | {c.claim} | [`{c.data}`](data/{c.data}.jsonl) | {len(seeds)} | "
                 f"{c.method.label}{note} {spread(method)} | "
                 f"{c.control.label}{control_note} {spread(control)} | "
                 f"{result.describe(c.scale, c.digits)} | {boot} | **{result.verdict}** |")
  return "\n".join(lines)


def verdict_rule() -> str:
  """The rule as :mod:`jaxtricks.experiments.stats` states it."""
  doc = stats.__doc__
  return doc[doc.index("The verdict rule"):].strip().replace("``", "`")


def blocks(data_dir: Path = DATA) -> dict[str, str]:
  """Every generated block's text, by name."""
  return {"verdict_rule": verdict_rule(), "claims": claims_table(data_dir=data_dir),
          **{name: make(load_rows(name, data_dir)) for name, make in TABLES.items()}}


BLOCK = re.compile(r"<!-- generated: (\w+) -->\n(.*?)<!-- end: \1 -->", re.S)


def render(page: str, data_dir: Path = DATA) -> str:
  """``page`` with every generated block rewritten; fails naming a block the page lacks or one it has
  that is not generated here."""
  texts = blocks(data_dir)
  found = [m.group(1) for m in BLOCK.finditer(page)]
  if sorted(found) != sorted(texts):
    raise ValueError(f"docs/results.md has the blocks {sorted(found)}; the generator writes {sorted(texts)}")
  block = lambda name: f"<!-- generated: {name} -->\n{texts[name]}\n<!-- end: {name} -->"  # noqa: E731
  return BLOCK.sub(lambda m: block(m.group(1)), page)


def main(argv) -> None:
  del argv
  page = PAGE.read_text()
  new = render(page)
  if flags.FLAGS.check:
    pairs = zip(BLOCK.finditer(page), BLOCK.finditer(new))
    stale = [old.group(1) for old, fresh in pairs if old.group(2) != fresh.group(2)]
    if stale:
      sys.exit(f"docs/results.md: the blocks {stale} differ from docs/data; run python -m "
               "jaxtricks.experiments.claims")
    return
  PAGE.write_text(new)


if __name__ == "__main__":
  flags.DEFINE_bool("check", False, "Only compare: exit 1 if docs/results.md differs from its data.")
  app.run(main)
