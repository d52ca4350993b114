"""Relational KD on digits, RKD-DA (distance + angle): cross-entropy + 25·RKD-D + 50·RKD-A on the
pooled penultimate embeddings of the ``digits_student`` CNN (32-d) and the ResNet-56
``digits_teacher`` (64-d) (Park et al., CVPR 2019; weights 25/50 as in the CIFAR ports, e.g.
RepDistiller).
Takes ``:smoke,seed=N`` like ``digits_kd``.

  python -m jaxtricks.training --config=digits_rkd_da --workdir=runs/rkd_da
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_kd", arg)
  c.distill.kd_weight = 0.0
  c.loss.weight = 1.0
  c.distill.features = "embedding"
  c.distill.rkd_distance_weight = 25.0
  c.distill.rkd_angle_weight = 50.0
  return c
