"""Long-tailed digits: Deferred re-weighting (Cao et al., NeurIPS 2019): plain ERM, then Class-Balanced weights (β = 0.9999) from the first LR decay on.

Built on ``digits_lt_erm.py`` (same data, network and schedule); takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_drw.py:imbalance=50
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.loss.class_balanced_beta = 0.9999
  c.loss.reweight_from_epoch = c.optim.decay_epochs[0]
  return c
