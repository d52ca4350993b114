"""Long-tailed CIFAR-10 (TFDS), ResNet-32: M2m (Kim et al., CVPR 2020) from the first LR decay (epoch 160) on, as the official schedule; g is trained first into WORKDIR/generator unless --config.m2m.generator_workdir names one.

Built on ``cifar10_lt_resnet32.py`` (same data, network and CB-paper schedule); takes the same
``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/cifar10_lt_m2m.py:imbalance=100
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "cifar10_lt_resnet32", arg)
  c.m2m.enabled = True
  c.m2m.from_epoch = c.optim.decay_epochs[0]
  return c
