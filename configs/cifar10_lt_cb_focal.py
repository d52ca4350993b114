"""Long-tailed CIFAR-10 (TFDS), ResNet-32: Class-Balanced focal loss (γ = 1, β = 0.9999), head bias
−log(C−1), no decay on biases: the CB paper's best CIFAR-10 setting, on ``cifar10_lt_resnet32``.

  python -m jaxtricks.training --config=cifar10_lt_cb_focal:imbalance=100
  python -m jaxtricks.training --config=cifar10_lt_cb_focal:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "cifar10_lt_resnet32", "cb_focal", no_bias_decay=True)
