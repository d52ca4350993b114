"""Long-tailed digits: Class-Balanced sigmoid (one-vs-all) cross-entropy, β = 0.9999, head bias −log(C−1).

Built on ``digits_lt_erm.py`` (same data, network and schedule); takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_cb_sigmoid.py:imbalance=50
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.loss.type = "sigmoid"
  c.loss.class_balanced_beta = 0.9999
  c.model.prior_bias = True
  return c
