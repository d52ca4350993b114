"""Metric learning on digits, the student alone: the small CNN (width 8) with a 64-d l2-normalised
embedding and ``digits_metric_teacher``'s triplet loss, data and schedule.

  python -m jaxtricks.training --config=digits_metric_student
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = sibling_config(__file__, "digits_metric_teacher", f"smoke={arg.smoke},seed={arg.seed}")
  c.model.update(name="cnn", embedding_dim=64)
  c.model.cnn.update(width=4 if arg.smoke else 8, l2_normalize=True)
  return c
