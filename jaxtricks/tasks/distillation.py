"""Distillation from a frozen teacher (Hinton et al., 2015; Relational KD, Park et al., CVPR 2019), as
a part of the classification and metric-learning tasks. The teacher's variables ride in
``state.frozen["teacher"]``."""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
from jax import lax

from jaxtricks.losses.distillation import kd_loss, rkd_angle_loss, rkd_distance_loss
from jaxtricks.models.layers import aux_output
from jaxtricks.parallel import AXIS, gather_batch

FEATURES = ("output", "embedding")


def config_block() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.teacher = ml_collections.ConfigDict()  # The teacher's full config: trained first if needed.
  c.teacher_workdir = ""  # The teacher's run directory; empty: WORKDIR/teacher.
  c.kd_weight = 0.0  # Hinton KD, T²·KL on the outputs (GluonCV: loss.weight=h, kd_weight=1−h).
  c.temperature = 4.0
  c.rkd_distance_weight = 0.0  # Relational KD, distance term (official examples: 1).
  c.rkd_angle_weight = 0.0  # Relational KD, angle term (official examples: 2).
  c.features = "output"  # What RKD compares: output | embedding (pooled penultimate).
  c.generations = 1  # Self-distillation: generation g > 1 learns from generation g − 1.
  return c


@dataclasses.dataclass(frozen=True)
class Distillation:
  """Losses against a frozen teacher whose variables are ``state.frozen["teacher"]``.

  ``kd_weight·KD(T)`` on the outputs and ``rkd_distance_weight·RKD-D + rkd_angle_weight·RKD-A`` on
  ``features``: the outputs, or the pooled penultimate ``embedding``. The teacher runs in inference
  mode (BatchNorm statistics, no dropout) on the same augmented images as the student, under
  ``stop_gradient``. RKD compares all pairs of the *global* batch (gathered over devices), so it does
  not depend on the device count.
  """

  teacher: nn.Module
  kd_weight: float = 0.0
  temperature: float = 4.0
  rkd_distance_weight: float = 0.0
  rkd_angle_weight: float = 0.0
  features: str = "output"

  def __post_init__(self):
    if self.features not in FEATURES:
      raise ValueError(f"distill.features must be one of {FEATURES}, got {self.features!r}")

  def losses(self, teacher_variables, images, outputs, aux) -> dict[str, jax.Array]:
    """The weighted terms, given the student's ``outputs`` and ``aux`` on ``images``."""
    t_out, t_aux = self.teacher.apply(teacher_variables, images, train=False)
    t_out = lax.stop_gradient(t_out)
    out = {}
    if self.kd_weight:
      out["kd"] = self.kd_weight * kd_loss(outputs, t_out, temperature=self.temperature).mean()
    if self.rkd_distance_weight or self.rkd_angle_weight:
      student, teacher = outputs, t_out
      if self.features == "embedding":
        needed_by = "distill.features='embedding'"
        student = aux_output(aux, "embedding", needed_by=needed_by)
        teacher = aux_output(t_aux, "embedding", needed_by=needed_by + " (the teacher)")
      teacher = gather_batch(lax.stop_gradient(teacher.astype(jnp.float32)), AXIS)
      student = gather_batch(student.astype(jnp.float32), AXIS)
      if self.rkd_distance_weight:
        out["rkd_distance"] = self.rkd_distance_weight * rkd_distance_loss(student, teacher)
      if self.rkd_angle_weight:
        out["rkd_angle"] = self.rkd_angle_weight * rkd_angle_loss(student, teacher)
    return out


def enabled(config: ml_collections.ConfigDict) -> bool:
  d = config.distill
  return bool(d.kd_weight or d.rkd_distance_weight or d.rkd_angle_weight)


def check(config: ml_collections.ConfigDict) -> None:
  d = config.distill
  if d.generations < 1:
    raise ValueError(f"distill.generations must be >= 1, got {d.generations}")
  if d.features not in FEATURES:
    raise ValueError(f"distill.features must be one of {FEATURES}, got {d.features!r}")


def from_config(config: ml_collections.ConfigDict, runs, num_classes: int,
                dtype) -> tuple[Distillation | None, dict]:
  """The distillation part of a task and its frozen variables: the teacher from
  ``distill.teacher_workdir`` (default ``WORKDIR/teacher``), trained there first when
  ``distill.teacher`` is given; ``(None, {})`` when no distillation weight is set."""
  check(config)
  d = config.distill
  if not enabled(config):
    return None, {}
  run = runs.load("teacher", d.teacher or None, d.teacher_workdir)
  distill = Distillation(run.model(num_classes, dtype), kd_weight=d.kd_weight,
                         temperature=d.temperature, rkd_distance_weight=d.rkd_distance_weight,
                         rkd_angle_weight=d.rkd_angle_weight, features=d.features)
  return distill, {"teacher": run.variables}
