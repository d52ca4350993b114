"""Long-tailed CIFAR-10 (TFDS), ResNet-32: Class-Balanced softmax cross-entropy (Cui et al., CVPR 2019), β = 0.9999.

Built on ``cifar10_lt_resnet32.py`` (same data, network and CB-paper schedule); takes the same
``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/cifar10_lt_cb_softmax.py:imbalance=100
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "cifar10_lt_resnet32", arg)
  c.loss.class_balanced_beta = 0.9999
  return c
