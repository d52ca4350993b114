"""Long-tailed digits: logit-adjusted loss (Menon et al., ICLR 2021), τ = 1 (= Balanced Softmax, Ren et
al., NeurIPS 2020): softmax cross-entropy of ``logits + τ·log π`` in training, plain logits at test.

Built on ``digits_lt_erm.py`` (same data, network and schedule); takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_logit_adjust.py:imbalance=100
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.loss.logit_adjustment = 1.0
  return c
