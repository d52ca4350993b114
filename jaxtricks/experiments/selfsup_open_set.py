"""Self-supervised label augmentation, open-set recognition and Deep InfoMax on digits.

  python -m jaxtricks.experiments.selfsup_open_set --seeds=3 --out=results/selfsup_open_set

SLA: ``configs/digits_sla.py`` in every mode (baseline, DA, MT, SLA with aggregated and single
inference, SLA+SD), test accuracy over seeds. Open set: ``configs/digits_open_set.py`` with the softmax
baseline, RPL and ARPL at each ``--temperatures`` value, seed s on known/unknown split s; 10 % of the
known training digits are held out, each run records its closed-set accuracy on them (the only
selection signal a user has: the unknown digits are unseen until test) and its test AUROC, closed-set
accuracy and OSCR.
DIM: linear-probe accuracy of ``configs/digits_dim_probe.py`` per estimator and for a random encoder.
Writes ``results.md`` and ``results.png`` into ``--out``; runs keep their workdirs, so a sweep resumes.
"""

from pathlib import Path

import numpy as np
import tqdm
from matplotlib.figure import Figure

from jaxtricks.experiments.common import (Option, fit_and_release, fit_validated, mean_std, run_script,
                                         save_figure, save_results)
from jaxtricks.training.config import load_config
from jaxtricks.training.plots import plot_seed_bars

PARTS = ("sla", "open_set", "dim")
SLA_MODES = ("baseline", "da", "mt", "sla", "sla_sd")
OPEN_SET_LOSSES = ("softmax", "rpl", "arpl")
DIM_ESTIMATORS = ("random", "jsd", "nce", "dv")



def run(seeds: int, out: Path, smoke: bool, parts=PARTS, temperatures=(1.0,)) -> list[dict]:
  open_set = [(line, t) for line in OPEN_SET_LOSSES for t in ((None,) if line == "softmax" else temperatures)]
  jobs = ([("sla", m, None, s) for s in range(seeds) for m in SLA_MODES]
          + [("open_set", line, t, s) for s in range(seeds) for line, t in open_set]
          + [("dim", e, None, s) for s in range(seeds) for e in DIM_ESTIMATORS])
  rows = []
  for family, method, temperature, seed in tqdm.tqdm([j for j in jobs if j[0] in parts], desc="runs",
                                                     unit="run"):
    smoke_arg = "smoke," if smoke else ""
    row = {"family": family, "method": method, "seed": seed}
    if family == "sla":
      config = load_config("digits_sla", f"{smoke_arg}mode={method},seed={seed}")
    elif family == "open_set":
      config = load_config("digits_open_set", f"{smoke_arg}loss={method},split={seed},seed={seed}")
      if temperature is not None:
        config.open_set.temperature = row["temperature"] = temperature
    else:
      config = load_config("digits_dim_probe", f"{smoke_arg}estimator={method},seed={seed}")
      if config.transfer.pretrain:
        config.transfer.pretrain.progress = False
    config.progress = False
    variant = method if temperature is None else f"{method}_t{temperature:g}"
    workdir = out / f"{family}_{variant}_{seed}"
    if family == "open_set":
      try:
        validation, final = fit_validated(config, workdir)
      except FloatingPointError:  # A setting that diverges is recorded as such, and not chosen.
        rows.append({**row, "diverged": True})
        continue
      row["val_accuracy"] = validation["eval/accuracy"]
    else:
      final = fit_and_release(config, workdir)
    row["accuracy"] = final["eval/accuracy"]
    for key in ("accuracy_single", "accuracy_aggregated", "auroc", "oscr"):
      if f"eval/{key}" in final:
        row[key] = final[f"eval/{key}"]
    rows.append(row)
  return rows


def open_set_label(row: dict) -> str:
  """``rpl T=0.1``; the softmax baseline has no temperature."""
  return row["method"] + (f" T={row['temperature']:g}" if "temperature" in row else "")


def write_report(rows: list[dict], out: Path) -> str:
  sla = [r for r in rows if r["family"] == "sla"]
  osr = [r for r in rows if r["family"] == "open_set"]
  dim = [r for r in rows if r["family"] == "dim"]
  pick = lambda rs, m, k: [r[k] for r in rs if r["method"] == m and k in r]
  sections = []  # The parts that ran.
  if sla:
    names = {"baseline": ("no transforms", None), "da": ("DA: rotated copies keep their label", None),
             "mt": ("MT: class + rotation heads", None),
             "sla": ("SLA+AG (aggregated)", "accuracy_single"),
             "sla_sd": ("SLA+SD (self-distilled head)", "accuracy_aggregated")}
    lines = ["SLA on digits (SmallCNN, 4 rotations), test accuracy %, mean ± std over seeds:", "",
             "| method | main prediction | other prediction |", "|---|---|---|"]
    for m in SLA_MODES:
      label, other = names[m]
      other_cell = f"{other.removeprefix('accuracy_')}: {mean_std(pick(sla, m, other))}" if other else ""
      lines.append(f"| {label} | {mean_std(pick(sla, m, 'accuracy'))} | {other_cell} |")
    sections.append(lines)
  variants = list(dict.fromkeys(open_set_label(r) for r in osr))
  if osr:
    lines = ["Open set on digits (6 known / 4 unknown, seed s on split s), %, mean ± std over splits; "
             "validation: closed-set accuracy on the held-out known training digits:", "",
             "| method | validation accuracy | AUROC | closed-set accuracy | OSCR |", "|---|---|---|---|---|"]
    for v in variants:
      sel = [r for r in osr if open_set_label(r) == v]
      diverged = sum(r.get("diverged", False) for r in sel)
      v += f" (diverged on {diverged} of {len(sel)} seeds)" if diverged else ""
      lines.append(f"| {v} | " + " | ".join(mean_std([r[k] for r in sel if k in r])
                                           for k in ("val_accuracy", "auroc", "accuracy", "oscr")) + " |")
    sections.append(lines)
  if dim:
    lines = ["Deep InfoMax on digits: linear-probe test accuracy % of the frozen encoder (pooled "
             "last-conv features), mean ± std over seeds:", "", "| encoder | probe accuracy |", "|---|---|"]
    for e in DIM_ESTIMATORS:
      lines.append(f"| {'random (untrained)' if e == 'random' else 'DIM ' + e.upper()} | "
                   f"{mean_std(pick(dim, e, 'accuracy'))} |")
    sections.append(lines)
  lines = [line for section in sections for line in ["", *section]][1:]
  report = "\n".join(lines) + "\n"
  save_results(out, rows, report, echo=False)

  fig = Figure(figsize=(14, 3.5))
  axes = fig.subplots(1, 3)
  for ax, group, key, methods, title in (
      (axes[0], sla, "accuracy", SLA_MODES, "SLA: test accuracy (%)"),
      (axes[1], [{**r, "method": open_set_label(r)} for r in osr], "auroc", variants,
       "open set: AUROC (%)"),
      (axes[2], dim, "accuracy", DIM_ESTIMATORS, "DIM: linear probe (%)")):
    present = [m for m in methods if pick(group, m, key)]
    if not present:
      continue
    plot_seed_bars({m: 100 * np.asarray(pick(group, m, key)) for m in present}, ax, margin=5.0)
    ax.set_title(title)
  save_figure(fig, out / "results.png", dpi=100)
  return report


def main(args, out: Path) -> None:
  print(write_report(run(args.seeds, out, args.smoke, args.parts,
                         tuple(float(t) for t in args.temperatures)), out))


if __name__ == "__main__":  # --seeds: SLA's and DIM's seeds; open set: known/unknown splits.
  run_script("selfsup_open_set", main,
             parts=Option(list(PARTS), "Which parts to run.", choices=PARTS),
             temperatures=Option(["1"], "RPL / ARPL temperatures (each a run; the claims pick one on "
                                 "the validation digits)."))
