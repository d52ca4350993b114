"""Long-tailed CIFAR-10 (TFDS), ResNet-32: Class-Balanced sigmoid cross-entropy, β = 0.9999, head bias
−log(C−1), no decay on biases.

Data, network, CB-paper schedule and ``:imbalance=..,seed=..,smoke`` of ``cifar10_lt_resnet32``.

  python -m jaxtricks.training --config=cifar10_lt_cb_sigmoid:imbalance=100
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "cifar10_lt_resnet32", "cb_sigmoid", no_bias_decay=True)
