"""Runs that a run builds on (a distillation teacher, a transfer source, an M2m generator), and
generations: of self-distillation (Born-Again Networks, Furlanello et al., ICML 2018) and of Noisy
Student self-training (Xie et al., CVPR 2020), where each student becomes the next teacher.

A prerequisite run lives in a directory of its own: the one given, or ``WORKDIR/<name>``. When its
config is given it is trained there first (or resumed and finished); otherwise the directory must hold
a finished jaxtricks run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import jax
import ml_collections
import numpy as np

from jaxtricks.inference import Run, load_run
from jaxtricks.paths import as_path
from jaxtricks.tasks import task_family


@dataclasses.dataclass(frozen=True)
class Runs:
  """The prerequisite runs of the run in ``workdir``; ``fit`` trains one, on ``datasets`` when it
  uses the same data (``same_data``), else on the data of its own config. Without ``fit`` (an
  evaluation of a finished run) they are only loaded."""
  workdir: Path
  fit: Callable | None
  datasets: tuple | None = None

  def load(self, name: str, config: ml_collections.ConfigDict | None = None, workdir: str = "",
           *, same_data: bool = True) -> Run:
    directory = as_path(workdir or self.workdir / name)
    if config and self.fit is not None:
      given = self.datasets if same_data else None
      self.fit(config, directory, datasets=given, datasets_from_config=given is not None)
    if not (directory / "config.json").exists():
      trained = "and no config to train one there was given" if self.fit else "(it is only loaded here)"
      raise ValueError(f"{str(directory)!r} holds no jaxtricks run, {trained} ({name})")
    return load_run(directory)


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in metrics.items() if k.startswith("eval/") and np.ndim(v) == 0}


def generations_block(config: ml_collections.ConfigDict) -> str | None:
  """The name of the block of ``config``'s family that holds ``teacher``, ``teacher_workdir`` and
  ``generations`` (the family's ``GENERATIONS``), or None."""
  return task_family(config.task).GENERATIONS


def fit_generations(fit: Callable, config: ml_collections.ConfigDict, workdir: Path,
                    datasets) -> tuple[dict[str, Any], Any]:
  """Generation 1 learns from the teacher, generation g from generation g − 1, each in
  ``workdir/generation_g`` (a finished generation is only reloaded, so the command resumes).
  ``final_metrics.json`` lists every generation's and the teacher's scalar test metrics."""
  name = generations_block(config)
  block = config[name]
  if jax.process_index() == 0:  # The whole run's record (load_run reads the last generation's model).
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
  summary = []
  first_teacher = as_path(block.teacher_workdir or workdir / "teacher")
  teacher_dir = first_teacher
  for generation in range(1, block.generations + 1):
    g_config = ml_collections.ConfigDict(config.to_dict())
    g_block = g_config[name]
    g_block.generations = 1
    g_block.teacher_workdir = str(teacher_dir)
    g_block.teacher = block.teacher if generation == 1 else ml_collections.ConfigDict()
    final, state = fit(g_config, workdir / f"generation_{generation}", datasets=datasets,
                       datasets_from_config=True)
    summary.append(_scalars(final))
    teacher_dir = workdir / f"generation_{generation}"
  teacher_file = first_teacher / "final_metrics.json"
  teacher_eval = json.loads(teacher_file.read_text()) if teacher_file.exists() else {}
  final = {**final, "generations": summary, "workdir": str(workdir), "teacher": _scalars(teacher_eval)}
  if jax.process_index() == 0:
    (workdir / "final_metrics.json").write_text(json.dumps(final, indent=2))
  return final, state
