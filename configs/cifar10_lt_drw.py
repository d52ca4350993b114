"""Long-tailed CIFAR-10 (TFDS), ResNet-32: deferred re-weighting: ERM, then Class-Balanced weights (β = 0.9999) from the first LR decay (epoch 160).

Built on ``cifar10_lt_resnet32.py`` (same data, network and CB-paper schedule); takes the same
``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/cifar10_lt_drw.py:imbalance=100
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "cifar10_lt_resnet32", arg)
  c.loss.class_balanced_beta = 0.9999
  c.loss.reweight_from_epoch = c.optim.decay_epochs[0]
  return c
