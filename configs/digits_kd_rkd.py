"""KD + RKD-DA on digits: ``digits_kd`` (0.9·KD at T = 4 + 0.1·CE) plus 25·RKD-D + 50·RKD-A on the
penultimate embeddings — the combination the RKD paper reports best on CIFAR-100.
Takes ``:smoke,seed=N`` like ``digits_kd``.

  python -m jaxtricks.training --config=digits_kd_rkd --workdir=runs/kd_rkd
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_kd", arg)
  c.distill.features = "embedding"
  c.distill.rkd_distance_weight = 25.0
  c.distill.rkd_angle_weight = 50.0
  return c
