"""Long-tailed CIFAR-10 (IF=100 by default; the CB paper's `n_i = int(5000·IF^(−i/9))`), ResNet-32.

The CIFAR recipe of ``cifar10_resnet32.py`` on the long-tailed training split; the test set stays
balanced. ``:imbalance=50`` picks another imbalance factor.

  python -m jaxtricks.training --config=cifar10_lt_resnet32:imbalance=50
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, imbalance=100.0)
  return sibling_config(__file__, "cifar10_resnet32",
                        f"smoke={arg.smoke},seed={arg.seed},imbalance={arg.imbalance}")
