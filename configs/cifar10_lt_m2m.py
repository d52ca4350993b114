"""Long-tailed CIFAR-10 (TFDS), ResNet-32: M2m (Kim et al., CVPR 2020) from the first LR decay (epoch
160) on, as the official schedule; g is trained first into WORKDIR/generator unless
--config.m2m.generator_workdir names one.

Built on ``cifar10_lt_resnet32.py`` (same data, network and CB-paper schedule); takes the same
``:imbalance=..,seed=..,smoke`` (the smoke variant translates with a single step).

  python -m jaxtricks.training --config=cifar10_lt_m2m:imbalance=100
"""

from jaxtricks.imbalance.recipes import long_tail_method
from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, imbalance=100.0)
  c = sibling_config(__file__, "cifar10_lt_resnet32",
                     f"smoke={arg.smoke},seed={arg.seed},imbalance={arg.imbalance}")
  long_tail_method(c, "m2m")
  if arg.smoke:
    c.m2m.steps = 1
  return c
