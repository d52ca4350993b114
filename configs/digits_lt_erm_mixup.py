"""Long-tailed digits: ERM with mixup α = 0.2 (Zhang et al., ICLR 2018) for twice the epochs (80, LR ×0.01
at 64 and 72): the control for ``digits_lt_logit_adjust_mixup.py`` at the same budget.

Built on ``digits_lt_erm.py``; takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=configs/digits_lt_erm_mixup.py:imbalance=100
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_lt_erm", arg)
  c.train.mixup_alpha = 0.2
  c.train.num_epochs *= 2  # Mixup needs longer training to fit.
  c.optim.decay_epochs = tuple(2 * e for e in c.optim.decay_epochs)
  return c
