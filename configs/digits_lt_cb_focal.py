"""Long-tailed digits: Class-Balanced focal loss (sigmoid, γ = 1), β = 0.9999, head bias −log(C−1) — the CB paper's best CIFAR-10 setting.

Built on ``digits_lt_erm.py`` (same data, network and schedule); takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_cb_focal.py:imbalance=50
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.loss.type = "focal"
  c.loss.gamma = 1.0
  c.loss.class_balanced_beta = 0.9999
  c.model.prior_bias = True
  return c
