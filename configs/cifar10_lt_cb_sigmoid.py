"""Long-tailed CIFAR-10 (TFDS), ResNet-32: Class-Balanced sigmoid cross-entropy, β = 0.9999, head bias −log(C−1), no decay on biases.

Built on ``cifar10_lt_resnet32.py`` (same data, network and CB-paper schedule); takes the same
``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/cifar10_lt_cb_sigmoid.py:imbalance=100
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "cifar10_lt_resnet32", arg)
  c.loss.type = "sigmoid"
  c.loss.class_balanced_beta = 0.9999
  c.model.prior_bias = True
  c.optim.no_bias_decay = True
  return c
