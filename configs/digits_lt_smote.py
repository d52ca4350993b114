"""Long-tailed digits: SMOTE (imbalanced-learn rule, k = 5) in input space: the training stream samples the data plus synthetic points that balance every class.

Built on ``digits_lt_erm.py`` (same data, network and schedule); takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_smote.py:imbalance=50
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.dataset.resample = "smote"
  c.dataset.smote_k = 5
  return c
