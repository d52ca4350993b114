"""Self-distillation on digits (Born-Again Networks, Furlanello et al., ICML 2018): the
``digits_student`` CNN teaches a copy of itself, and each generation the next, with ``digits_kd``'s
loss; generations in ``WORKDIR/generation_g``, the teacher (generation 0) in ``WORKDIR/teacher``.

  python -m jaxtricks.training --config=digits_self_distill:generations=3
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, generations=3)
  c = sibling_config(__file__, "digits_kd", f"smoke={arg.smoke},seed={arg.seed}")
  c.distill.teacher = sibling_config(__file__, "digits_student", f"smoke={arg.smoke}")
  c.distill.generations = 2 if arg.smoke else arg.generations
  return c
