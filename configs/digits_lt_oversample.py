"""Long-tailed digits: Class-balanced over-sampling: every epoch draws examples with probability ∝ 1/N_y.

Built on ``digits_lt_erm.py`` (same data, network and schedule); takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_oversample.py:imbalance=50
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.dataset.resample = "oversample"
  return c
