"""Long-tailed CIFAR-10 (TFDS), ResNet-32: class-balanced over-sampling (probability ∝ 1/N_y every epoch),
with ``cifar10_lt_resnet32``'s data, schedule and arguments.

  python -m jaxtricks.training --config=cifar10_lt_oversample:imbalance=100
  python -m jaxtricks.training --config=cifar10_lt_oversample:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "cifar10_lt_resnet32", "oversample")
