"""Data-efficient training on digits: few labels (supervised, pseudo-labelling, Noisy Student
generations), RandAugment vs the plain crop, GoogLeNet with vs without auxiliary heads, and training
on non-robust data sets; plus a RandAugment gallery.

  python -m jaxtricks.experiments.data_efficient --seeds=3 --out=results/data_efficient

Parts (``--parts``): ``few_labels`` runs ``configs/digits_semi.py`` at 5 % and 10 % labels: the
supervised teacher with RandAugment and with the plain 1-pixel crop, pseudo-labelling, and three Noisy
Student generations from that teacher; ``ramp`` runs pseudo-labelling at 10 % labels with Lee's α ramp
starting at epoch 5 (the recipe: the few-labels part's runs) and at the first step; ``aux`` runs
``configs/digits_googlenet.py`` with and without the heads; ``nonrobust`` trains one standard model
and then ``configs/digits_nonrobust.py`` for D_det and D_rand; ``gallery`` draws every RandAugment op.
Writes ``results.md``, ``results.jsonl`` and the plots; runs keep their workdirs, so a sweep resumes.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from matplotlib.figure import Figure

from jaxtricks.data import build_datasets, load_digits
from jaxtricks.data.constructed import nonrobust_dataset
from jaxtricks.data.randaugment import (TORCHVISION_OPS, op_magnitudes, randaugment, to_float, to_uint8,
                                        torchvision_op)
from jaxtricks.experiments.common import (Option, fit_and_release, mean_std, run_parts, run_script,
                                         save_figure, save_image_rows, save_results)
from jaxtricks.training.config import load_config
from jaxtricks.training.runs import Runs

PARTS = ("few_labels", "ramp", "aux", "nonrobust", "gallery")
FRACTIONS = (0.05, 0.1)
# Non-robust features' L2 budgets on [0, 1] pixels. A digit's mean norm is 3.87: ε = 0.065 is 1.7 % of
# it, CIFAR-10's share at the paper's ε = 0.5 (mean norm ≈ 30 from the channel means and stds).
EPSILONS = (1.0, 0.25, 0.065)
GENERATIONS = 3


def _fit(recipe: str, arg: str, workdir: Path, **overrides) -> dict:
  config = load_config(recipe, arg)
  config.progress = False
  for key, value in overrides.items():
    section, _, name = key.rpartition(".")
    (config[section] if section else config)[name] = value
  return fit_and_release(config, workdir)


def few_labels(seeds: int, out: Path, smoke: bool) -> list[dict]:
  """Seed s draws its own split (``dataset.split_seed = s``: the test digits and which training digits
  keep their labels) and trains with seed s."""
  rows = []
  for fraction in FRACTIONS:
    for seed in range(seeds):
      base = f"smoke={smoke},seed={seed},labelled={fraction}"
      tag = f"{fraction}_split{seed}"
      teacher_dir = out / f"supervised_{tag}"
      for method, arg, workdir in (("supervised", "method=supervised", teacher_dir),
                                   ("supervised_crop", "method=supervised,randaugment=0",
                                    out / f"supervised_crop_{tag}"),
                                   ("pseudo_label", "method=pseudo_label", out / f"pseudo_label_{tag}")):
        final = _fit("digits_semi", f"{base},{arg}", workdir, **{"dataset.split_seed": seed})
        rows.append({"part": "few_labels", "method": method, "fraction": fraction, "seed": seed,
                     "accuracy": final["eval/accuracy"]})
      final = _fit("digits_semi", f"{base},method=noisy_student,generations={GENERATIONS}",
                   out / f"noisy_student_{tag}", **{"semi.teacher_workdir": str(teacher_dir),
                                                    "dataset.split_seed": seed})
      for g, metrics in enumerate(final["generations"], start=1):
        rows.append({"part": "few_labels", "method": f"noisy_student_{g}", "fraction": fraction,
                     "seed": seed, "accuracy": metrics["eval/accuracy"],
                     "teacher_pseudo_label_accuracy": metrics["eval/teacher_pseudo_label_accuracy"]})
  return rows


def ramp(seeds: int, out: Path, smoke: bool) -> list[dict]:
  """Pseudo-labelling at 10 % labels, seed s on split s, with α's ramp from epoch 5 to 20 (the recipe;
  its workdir is the few-labels part's, so a finished run is read) and from the first step to 20."""
  rows = []
  for seed in range(seeds):
    base = f"smoke={smoke},seed={seed},labelled=0.1,method=pseudo_label"
    for method, workdir, overrides in (
        ("ramp_from_epoch_5", out / f"pseudo_label_0.1_split{seed}", {}),
        ("ramp_from_step_0", out / f"pseudo_label_ramp0_0.1_split{seed}", {"semi.alpha_t1": 0.0})):
      final = _fit("digits_semi", base, workdir, **{"dataset.split_seed": seed, **overrides})
      rows.append({"part": "ramp", "method": method, "seed": seed, "accuracy": final["eval/accuracy"]})
  return rows


def aux(seeds: int, out: Path, smoke: bool) -> list[dict]:
  rows = []
  for heads in (True, False):
    for seed in range(seeds):
      final = _fit("digits_googlenet", f"smoke={smoke},seed={seed},aux={heads}",
                   out / f"googlenet_aux{int(heads)}_s{seed}")
      rows.append({"part": "aux", "method": "with_aux" if heads else "without_aux", "seed": seed,
                   "accuracy": final["eval/accuracy"]})
  return rows


def nonrobust(seeds: int, out: Path, smoke: bool) -> list[dict]:
  """D_det and D_rand at each of :data:`EPSILONS` (step ε/5), from one standard source model; each
  row also records ε relative to the mean L2 norm of a training digit."""
  source = out / "nonrobust_source"
  final = _fit("digits_nonrobust", f"smoke={smoke},kind=none", source)
  rows = [{"part": "nonrobust", "method": "standard", "seed": 0, "accuracy": final["eval/accuracy"]}]
  norm = mean_image_norm(load_config("digits_nonrobust", f"smoke={smoke},kind=none"))
  for epsilon in EPSILONS:
    for kind in ("det", "rand"):
      for seed in range(seeds):
        tag = "" if epsilon == 1.0 else f"_eps{epsilon:g}"  # ε = 1: the recipe's own runs.
        final = _fit("digits_nonrobust", f"smoke={smoke},seed={seed},kind={kind}",
                     out / f"nonrobust_{kind}{tag}_s{seed}",
                     **{"constructed.source_workdir": str(source), "constructed.source": {},
                        "constructed.epsilon": epsilon, "constructed.step_size": epsilon / 5})
        rows.append({"part": "nonrobust", "method": kind, "epsilon": epsilon, "seed": seed,
                     "relative_epsilon": epsilon / norm, "accuracy": final["eval/accuracy"],
                     "attack_success": final["eval/nonrobust_attack_success"]})
  perturbation_figure(out / "nonrobust_perturbations.png", source, smoke, norm)
  return rows


def mean_image_norm(config) -> float:
  """The mean L2 norm of the training images of ``config`` (pixels in [0, 1])."""
  train, _ = build_datasets(config.dataset)
  return float(np.linalg.norm(train.images.reshape(len(train), -1), axis=1).mean())


def perturbation_figure(path: Path, source: Path, smoke: bool, norm: float, count: int = 6) -> None:
  """Training digits and their D_det images (towards y + 1) at each of :data:`EPSILONS`, with the
  perturbation, each scaled to its own largest pixel (grey = 0)."""
  config = load_config("digits_nonrobust", f"smoke={smoke},kind=none")
  train, _ = build_datasets(config.dataset)
  train = train.subset(np.arange(count))
  standard = Runs(source.parent, fit=None).load(source.name).inference(train.num_classes)
  panels = {"original": train.images}
  for epsilon in EPSILONS:
    moved = nonrobust_dataset(lambda x: standard(x)[0], train, "det", epsilon=epsilon, step_size=epsilon / 5,
                              steps=5 if smoke else 100, seed=0)[0].images
    delta = moved - train.images
    panels[f"D_det, ε = {epsilon:g} ({100 * epsilon / norm:.1f} % of ‖x‖)"] = moved
    panels[f"its perturbation (×{0.5 / max(np.abs(delta).max(), 1e-8):.0f})"] = (
        0.5 + 0.5 * delta / max(np.abs(delta).max(), 1e-8))
  save_image_rows(panels, path)


def _pattern(size: int = 32) -> np.ndarray:
  """A colourful test image: gradients, a red square and a green disc."""
  y, x = np.mgrid[:size, :size]
  image = np.stack([(8 * x) % 256, (8 * y) % 256, 255 - 4 * (x + y)], -1).astype(np.float64)
  image[size // 8:size // 3, size // 8:size // 3] = (230, 30, 30)
  image[(y - 2 * size // 3) ** 2 + (x - 2 * size // 3) ** 2 <= (size // 6) ** 2] = (30, 200, 60)
  return np.clip(image, 0, 255).astype(np.uint8)


def gallery(out: Path) -> None:
  """``randaugment_ops.png``: every op at bins 9 and 30 (± for signed ops) on a test pattern;
  ``randaugment_digits.png``: RandAugment (N = 2, bin 9) on 32×32 digits, four draws each."""
  image = _pattern()
  columns = [(9, 1), (30, 1), (9, -1), (30, -1)]
  fig = Figure(figsize=(2 + 1.2 * len(columns), 1.2 * len(TORCHVISION_OPS)))
  axes = fig.subplots(len(TORCHVISION_OPS), len(columns) + 1)
  for row, op in zip(axes, TORCHVISION_OPS):
    row[0].imshow(image)
    row[0].set_ylabel(op, rotation=0, ha="right", va="center", fontsize=8)
    for ax, (b, sign) in zip(row[1:], columns):
      value, signed = op_magnitudes("torchvision", b, 32)[op]
      if sign < 0 and not signed:
        ax.axis("off")
        continue
      ax.imshow(np.asarray(torchvision_op(image, op, sign * value)))
  for ax, title in zip(axes[0], ["input"] + [f"bin {b}{' (−)' if s < 0 else ''}" for b, s in columns]):
    ax.set_title(title, fontsize=8)
  for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
  save_figure(fig, out / "randaugment_ops.png", dpi=90)

  train, _ = load_digits(image_size=32, channels=3)
  digits = np.repeat(to_uint8(train.images[:6]), 4, axis=0)
  augmented = np.asarray(to_float(randaugment(jax.random.key(0), digits, num_ops=2, magnitude=9)))
  fig = Figure(figsize=(6, 7.5))
  for ax, img in zip(fig.subplots(6, 5).ravel(), np.concatenate(
      [np.concatenate([train.images[i:i + 1], augmented[4 * i:4 * i + 4]]) for i in range(6)])):
    ax.imshow(img)
    ax.axis("off")
  fig.suptitle("digits: input, then four RandAugment draws (N = 2, bin 9)", fontsize=9)
  fig.savefig(out / "randaugment_digits.png", dpi=90)


def report(rows: list[dict], out: Path) -> str:
  lines = []
  few = [r for r in rows if r["part"] == "few_labels"]
  if few:
    seeds = len({r["seed"] for r in few})
    methods = ["supervised_crop", "supervised", "pseudo_label"] + [
        f"noisy_student_{g}" for g in range(1, GENERATIONS + 1)]
    names = {"supervised_crop": "supervised, 1-pixel crop only", "supervised": "supervised, RandAugment",
             "pseudo_label": "pseudo-labelling (Lee)"}
    lines += [f"Few labels: test accuracy (%), mean ± std over {seeds} seeds; in brackets the paired "
              "difference to the supervised RandAugment teacher (mean ± std):", "",
              "| method | " + " | ".join(f"{100 * f:g} % labelled" for f in FRACTIONS) + " |",
              "|---|" + "---|" * len(FRACTIONS)]
    for m in [m for m in methods if any(r["method"] == m for r in few)]:
      cells = []
      for f in FRACTIONS:
        acc = {r["seed"]: r["accuracy"] for r in few if r["method"] == m and r["fraction"] == f}
        ref = {r["seed"]: r["accuracy"] for r in few if r["method"] == "supervised" and r["fraction"] == f}
        diff = [acc[s] - ref[s] for s in acc]
        paired = "" if m == "supervised" else f" ({mean_std(diff, signed=True)})"
        cells.append(mean_std(list(acc.values())) + paired)
      label = names[m] if m in names else f"Noisy Student, generation {m.rsplit('_', 1)[1]}"
      lines.append(f"| {label} | " + " | ".join(cells) + " |")
    pl = {f: mean_std([r["teacher_pseudo_label_accuracy"] for r in few
                    if r["method"] == "noisy_student_1" and r["fraction"] == f]) for f in FRACTIONS}
    lines += ["", "Accuracy of the first teacher's pseudo-labels on the kept (balanced) unlabelled set: "
              + ", ".join(f"{pl[f]} at {100 * f:g} %" for f in FRACTIONS) + ".", ""]
    fig = Figure(figsize=(7, 3))
    for ax, f in zip(fig.subplots(1, len(FRACTIONS)), FRACTIONS):
      for s in range(seeds):
        curve = [r["accuracy"] for g in range(GENERATIONS + 1) for r in few if r["seed"] == s
                 and r["fraction"] == f and r["method"] == ("supervised" if g == 0 else f"noisy_student_{g}")]
        ax.plot(range(len(curve)), [100 * a for a in curve], "o-", color="C0", alpha=0.6)
      pl_acc = [100 * r["accuracy"] for r in few if r["method"] == "pseudo_label" and r["fraction"] == f]
      ax.axhline(np.mean(pl_acc), color="C1", ls="--", label="pseudo-labelling")
      ax.set(xlabel="generation (0 = supervised teacher)", ylabel="test accuracy (%)",
             title=f"{100 * f:g} % labelled", xticks=range(GENERATIONS + 1))
      ax.legend(fontsize=8)
    save_figure(fig, out / "few_labels.png", dpi=120)
  for part, title in (("ramp", "Pseudo-labelling at 10 % labels, test accuracy (%)"),
                      ("aux", "GoogLeNet (¼ width) on digits, test accuracy (%)"),
                      ("nonrobust", "Trained on non-robust data, clean test accuracy (%) (chance 10 %)")):
    picked = [r for r in rows if r["part"] == part]
    if not picked:
      continue
    lines += [f"{title}:", "", "| training data / model | seeds | accuracy | attack success |",
              "|---|---|---|---|"]
    for variant in dict.fromkeys((r["method"], r.get("epsilon")) for r in picked):
      rs = [r for r in picked if (r["method"], r.get("epsilon")) == variant]
      success = mean_std([r["attack_success"] for r in rs]) if "attack_success" in rs[0] else ""
      name = variant[0] if variant[1] is None else (
          f"{variant[0]}, ε = {variant[1]:g} ({100 * rs[0]['relative_epsilon']:.1f} % of ‖x‖)")
      lines.append(f"| {name} | {len(rs)} | {mean_std([r['accuracy'] for r in rs])} | {success} |")
    if part == "aux":
      acc = {(r["method"], r["seed"]): r["accuracy"] for r in picked}
      diff = [acc["with_aux", s] - acc["without_aux", s] for s in {r["seed"] for r in picked}]
      lines.append(f"\nPaired difference with − without heads: {mean_std(diff, signed=True)} points.")
    lines.append("")
  return "\n".join(lines)


def main(args, out: Path) -> None:
  def figures_only(seeds, out, smoke):  # The gallery trains nothing.
    gallery(out)
    return []

  rows = run_parts({"few_labels": few_labels, "ramp": ramp, "aux": aux, "nonrobust": nonrobust,
                    "gallery": figures_only}, args, out)
  save_results(out, rows, report(rows, out))


if __name__ == "__main__":
  run_script("data_efficient", main, parts=Option(PARTS, "Which parts to run.", choices=PARTS))
