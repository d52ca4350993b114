"""Long-tailed CIFAR-10 (TFDS), ResNet-32: class-balanced over-sampling (probability ∝ 1/N_y every epoch).

Built on ``cifar10_lt_resnet32.py`` (same data, network and CB-paper schedule); takes the same
``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/cifar10_lt_oversample.py:imbalance=100
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "cifar10_lt_resnet32", arg)
  c.dataset.resample = "oversample"
  return c
