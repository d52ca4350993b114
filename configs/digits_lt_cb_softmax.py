"""Long-tailed digits: Class-Balanced softmax cross-entropy (Cui et al., CVPR 2019), β = 0.9999.

Built on ``digits_lt_erm.py`` (same data, network and schedule); takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_cb_softmax.py:imbalance=50
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.loss.class_balanced_beta = 0.9999
  return c
