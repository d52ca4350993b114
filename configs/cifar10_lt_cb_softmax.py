"""Long-tailed CIFAR-10 (TFDS), ResNet-32: Class-Balanced softmax cross-entropy (Cui et al., CVPR 2019),
β = 0.9999; otherwise ``cifar10_lt_resnet32`` (its arguments too).

  python -m jaxtricks.training --config=cifar10_lt_cb_softmax:imbalance=100
  python -m jaxtricks.training --config=cifar10_lt_cb_softmax:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "cifar10_lt_resnet32", "cb_softmax")
