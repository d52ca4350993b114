"""Hinton knowledge distillation on digits: the ``digits_student`` CNN learns from the ResNet-56
``digits_teacher`` with ``0.9·T²·KL(p_t^T ‖ p_s^T) + 0.1·CE`` at T = 4 (Hinton et al., 2015).

The teacher is trained first into ``WORKDIR/teacher`` (or resumed there); point
``--config.distill.teacher_workdir`` at a finished teacher run to share one between students.

  python -m jaxtricks.training --config=digits_kd --workdir=runs/kd
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  c.distill.teacher = sibling_config(__file__, "digits_teacher", f"smoke={arg.smoke}")
  c.distill.kd_weight = 0.9
  c.distill.temperature = 4.0
  c.loss.weight = 0.1
  return c
