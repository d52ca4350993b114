"""Long-tailed digits: ERM with mixup α = 0.2 (Zhang et al., ICLR 2018) for twice the epochs (80, LR ×0.01
at 64 and 72): the control for ``digits_lt_logit_adjust_mixup.py`` at the same budget.

Built on ``digits_lt_erm.py``; takes the same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=digits_lt_erm_mixup:imbalance=100
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "erm_mixup")
