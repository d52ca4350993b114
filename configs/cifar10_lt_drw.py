"""Long-tailed CIFAR-10 (TFDS), ResNet-32: deferred re-weighting: ERM, then Class-Balanced weights
(β = 0.9999) from the first LR decay (epoch 160).

The base recipe ``cifar10_lt_resnet32`` sets the rest and takes the arguments.

  python -m jaxtricks.training --config=cifar10_lt_drw:imbalance=100
  python -m jaxtricks.training --config=cifar10_lt_drw:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "cifar10_lt_resnet32", "drw")
