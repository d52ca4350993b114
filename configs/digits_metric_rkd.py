"""Metric learning on digits by RKD alone (Park et al., CVPR 2019, Table 1): the small-CNN student
learns its 64-d embedding from ``1·RKD-D + 2·RKD-A`` against the ``digits_metric_teacher``'s
embeddings, with no labels (task loss weight 0) and no l2 normalisation of the student, as in the
official examples; evaluated by Recall@K on the unseen digits 5–9.

  python -m jaxtricks.training --config=digits_metric_rkd --workdir=runs/metric_rkd
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = sibling_config(__file__, "digits_metric_student", f"smoke={arg.smoke},seed={arg.seed}")
  c.model.cnn.l2_normalize = False
  c.loss.weight = 0.0
  c.distill.teacher = sibling_config(__file__, "digits_metric_teacher", f"smoke={arg.smoke}")
  c.distill.features = "output"
  c.distill.rkd_distance_weight = 1.0
  c.distill.rkd_angle_weight = 2.0
  return c
