"""Self-supervised label augmentation, open-set recognition and Deep InfoMax on digits.

  python -m jaxtricks.experiments.selfsup_open_set --seeds=3 --out=results/selfsup_open_set

SLA: ``configs/digits_sla.py`` in every mode (baseline, DA, MT, SLA with aggregated and single
inference, SLA+SD), test accuracy over seeds. Open set: ``configs/digits_open_set.py`` with the softmax
baseline, RPL and ARPL over known/unknown splits (one seed per split), AUROC and closed-set accuracy.
DIM: linear-probe accuracy of ``configs/digits_dim_probe.py`` per estimator and for a random encoder.
Writes ``results.md`` and ``results.png`` into ``--out``; runs keep their workdirs, so a sweep resumes.
"""

from pathlib import Path

import numpy as np
import tqdm
from matplotlib.figure import Figure

from jaxtricks.experiments.common import mean_std, run_script, save_figure, save_results
from jaxtricks.training.config import load_config
from jaxtricks.training.plots import plot_seed_bars
from jaxtricks.training.trainer import fit

SLA_MODES = ("baseline", "da", "mt", "sla", "sla_sd")
OPEN_SET_LOSSES = ("softmax", "rpl", "arpl")
DIM_ESTIMATORS = ("random", "jsd", "nce", "dv")



def run(seeds: int, out: Path, smoke: bool) -> list[dict]:
  jobs = ([("sla", m, s) for s in range(seeds) for m in SLA_MODES]
          + [("open_set", line, s) for s in range(seeds) for line in OPEN_SET_LOSSES]
          + [("dim", e, s) for s in range(seeds) for e in DIM_ESTIMATORS])
  rows = []
  for family, method, seed in tqdm.tqdm(jobs, desc="runs", unit="run"):
    smoke_arg = "smoke," if smoke else ""
    if family == "sla":
      config = load_config("digits_sla", f"{smoke_arg}mode={method},seed={seed}")
    elif family == "open_set":
      config = load_config("digits_open_set", f"{smoke_arg}loss={method},split={seed}")
    else:
      config = load_config("digits_dim_probe", f"{smoke_arg}estimator={method},seed={seed}")
      if config.transfer.pretrain:
        config.transfer.pretrain.progress = False
    config.progress = False
    final, _ = fit(config, out / f"{family}_{method}_{seed}")
    row = {"family": family, "method": method, "seed": seed, "accuracy": final["eval/accuracy"]}
    for key in ("accuracy_single", "accuracy_aggregated", "auroc", "oscr"):
      if f"eval/{key}" in final:
        row[key] = final[f"eval/{key}"]
    rows.append(row)
  return rows


def write_report(rows: list[dict], out: Path) -> str:
  sla = [r for r in rows if r["family"] == "sla"]
  osr = [r for r in rows if r["family"] == "open_set"]
  dim = [r for r in rows if r["family"] == "dim"]
  pick = lambda rs, m, k: [r[k] for r in rs if r["method"] == m and k in r]
  lines = ["SLA on digits (SmallCNN, 4 rotations), test accuracy %, mean ± std over seeds:", "",
           "| method | main prediction | other prediction |", "|---|---|---|"]
  names = {"baseline": ("no transforms", None), "da": ("DA: rotated copies keep their label", None),
           "mt": ("MT: class + rotation heads", None),
           "sla": ("SLA+AG (aggregated)", "accuracy_single"),
           "sla_sd": ("SLA+SD (self-distilled head)", "accuracy_aggregated")}
  for m in SLA_MODES:
    label, other = names[m]
    other_cell = f"{other.removeprefix('accuracy_')}: {mean_std(pick(sla, m, other))}" if other else ""
    lines.append(f"| {label} | {mean_std(pick(sla, m, 'accuracy'))} | {other_cell} |")
  lines += ["", "Open set on digits (6 known / 4 unknown, one run per split), %, mean ± std over splits:",
            "", "| method | AUROC | closed-set accuracy | OSCR |", "|---|---|---|---|"]
  for m in OPEN_SET_LOSSES:
    lines.append(f"| {m} | {mean_std(pick(osr, m, 'auroc'))} | {mean_std(pick(osr, m, 'accuracy'))} | "
                 f"{mean_std(pick(osr, m, 'oscr'))} |")
  lines += ["", "Deep InfoMax on digits: linear-probe test accuracy % of the frozen encoder (pooled "
            "last-conv features), mean ± std over seeds:", "", "| encoder | probe accuracy |",
            "|---|---|"]
  for e in DIM_ESTIMATORS:
    lines.append(f"| {'random (untrained)' if e == 'random' else 'DIM ' + e.upper()} | "
                 f"{mean_std(pick(dim, e, 'accuracy'))} |")
  report = "\n".join(lines) + "\n"
  save_results(out, rows, report, echo=False)

  fig = Figure(figsize=(14, 3.5))
  axes = fig.subplots(1, 3)
  for ax, group, key, methods, title in (
      (axes[0], sla, "accuracy", SLA_MODES, "SLA: test accuracy (%)"),
      (axes[1], osr, "auroc", OPEN_SET_LOSSES, "open set: AUROC (%)"),
      (axes[2], dim, "accuracy", DIM_ESTIMATORS, "DIM: linear probe (%)")):
    present = [m for m in methods if pick(group, m, key)]
    if not present:
      continue
    plot_seed_bars({m: 100 * np.asarray(pick(group, m, key)) for m in present}, ax, margin=5.0)
    ax.set_title(title)
  save_figure(fig, out / "results.png", dpi=100)
  return report


def main(args, out: Path) -> None:
  print(write_report(run(args.seeds, out, args.smoke), out))


if __name__ == "__main__":  # --seeds: SLA's seeds; open set: known/unknown splits.
  run_script("selfsup_open_set", main)
