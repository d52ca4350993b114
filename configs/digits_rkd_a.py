"""Relational KD on digits, RKD-A (angle) alone: ``digits_rkd_da`` without the distance term
(cross-entropy + 50·RKD-A on the penultimate embeddings). Takes ``:smoke,seed=N`` like ``digits_kd``.

  python -m jaxtricks.training --config=digits_rkd_a --workdir=runs/rkd_a
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_rkd_da", arg)
  c.distill.rkd_distance_weight = 0.0
  return c
