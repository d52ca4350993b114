"""Long-tailed CIFAR-10 (TFDS), ResNet-32: SMOTE in input space (k = 5): the stream samples the data plus
synthetic points that balance every class. As ``cifar10_lt_resnet32`` otherwise, arguments included.

  python -m jaxtricks.training --config=cifar10_lt_smote:imbalance=100
  python -m jaxtricks.training --config=cifar10_lt_smote:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "cifar10_lt_resnet32", "smote")
