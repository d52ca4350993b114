"""Relational KD on digits, RKD-D (distance) alone: ``digits_rkd_da`` without the angle term
(cross-entropy + 25·RKD-D on the penultimate embeddings). Takes ``:smoke,seed=N`` like ``digits_kd``.

  python -m jaxtricks.training --config=digits_rkd_d --workdir=runs/rkd_d
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_rkd_da", arg)
  c.distill.rkd_angle_weight = 0.0
  return c
