"""Metric learning on digits, the student alone: the small CNN (width 8) with a 64-d l2-normalised
embedding and ``digits_metric_teacher``'s triplet loss, data and schedule.

  python -m jaxtricks.training --config=configs/digits_metric_student.py
"""

from jaxtricks.training.config import base_config, parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = sibling_config(__file__, "digits_metric_teacher", f"smoke={arg.smoke},seed={arg.seed}")
  c.model = base_config().model
  c.model.update(name="cnn", width=8, l2_normalize=True, embedding_dim=64)
  for key in ("depth", "variant", "block", "zero_gamma"):  # ResNet-only options.
    del c.model[key]
  if arg.smoke:
    c.model.width = 4
  return c
