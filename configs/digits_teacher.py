"""Distillation on digits, the teacher: ResNet-56 (width 16) with the student's data and schedule.

  python -m jaxtricks.training --config=digits_teacher --workdir=runs/teacher
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  c.model.name = "resnet"
  c.model.resnet.update(depth=56, width=16)
  if arg.smoke:
    c.model.resnet.update(depth=8, width=4)
  return c
