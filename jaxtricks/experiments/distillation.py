"""Knowledge distillation on digits: a ResNet-56 teacher, a small-CNN student trained alone, with KD,
RKD-D / RKD-A / RKD-DA and KD + RKD-DA; and metric learning, the student alone vs RKD alone.

  python -m jaxtricks.experiments.distillation --seeds=3 --out=results/distillation

Per seed, one teacher run (``digits_teacher``, ``digits_metric_teacher``) is shared by that seed's
students (``configs/digits_<method>.py``). Writes ``results.md`` (test accuracy and Recall@1,
mean ± std over seeds) and ``results.png`` into ``--out``; each run keeps its workdir there, so an
interrupted sweep resumes.
"""

from pathlib import Path

import numpy as np
import tqdm
from matplotlib.figure import Figure

from jaxtricks.experiments.tables import TABLES
from jaxtricks.experiments.common import Option, fit_and_release, run_script, save_figure, save_results
from jaxtricks.training.config import load_config
from jaxtricks.training.plots import plot_seed_bars

CLASSIFICATION = ("teacher", "student", "kd", "rkd_d", "rkd_a", "rkd_da", "kd_rkd")
METRIC = ("metric_teacher", "metric_student", "metric_rkd")

def run(methods, seeds: int, out: Path, smoke: bool) -> list[dict]:
  rows = []
  jobs = [(m, s) for s in range(seeds) for m in methods]
  for method, seed in tqdm.tqdm(jobs, desc="runs", unit="run"):
    config = load_config(f"digits_{method}", ",".join(
        filter(None, ["smoke" if smoke else "", f"seed={seed}"])))
    config.progress = False
    teacher = "metric_teacher" if method.startswith("metric") else "teacher"
    if config.distill.teacher:  # The seed's shared teacher run (trained here if not yet done).
      config.distill.teacher.seed = seed
      config.distill.teacher.progress = False
      config.distill.teacher_workdir = str(out / f"{teacher}_seed{seed}")
    final = fit_and_release(config, out / f"{method}_seed{seed}")
    metric = "eval/recall@1" if config.task == "metric_learning" else "eval/accuracy"
    rows.append({"method": method, "seed": seed, "metric": metric.removeprefix("eval/"),
                 "value": final[metric]})
  return rows


def write_report(rows: list[dict], out: Path) -> str:
  report = ("Digits: test accuracy (classification) and Recall@1 on unseen digits 5–9 (metric learning), "
            "%, mean ± std over seeds:\n\n" + TABLES["distillation"](rows) + "\n")
  save_results(out, rows, report, echo=False)

  methods = list(dict.fromkeys(r["method"] for r in rows))
  values = {m: [r["value"] for r in rows if r["method"] == m] for m in methods}
  metric = [m for m in methods if m.startswith("metric")]
  groups = [g for g in ([m for m in methods if m not in metric], metric) if g]
  fig = Figure(figsize=(4 * len(groups) + 2, 3.5))
  axes = np.atleast_1d(fig.subplots(1, len(groups)))
  for ax, group, title in zip(axes, groups, ("test accuracy", "Recall@1 (digits 5–9)")):
    plot_seed_bars({m.removeprefix("metric_"): 100 * np.asarray(values[m]) for m in group}, ax,
                   colors=["C7" if "teacher" in m else "C0" for m in group])
    ax.set_ylabel(f"{title} (%)")
  fig.suptitle("distillation on digits (ResNet teacher → small-CNN student)")
  save_figure(fig, out / "results.png", dpi=100)
  return report


def main(args, out: Path) -> None:
  print(write_report(run(args.methods, args.seeds, out, args.smoke), out))


if __name__ == "__main__":
  run_script("distillation", main, methods=Option(
      CLASSIFICATION + METRIC, "Methods (configs/digits_<method>.py).", choices=CLASSIFICATION + METRIC))
