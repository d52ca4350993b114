"""Long-tailed digits: Deferred re-weighting (Cao et al., NeurIPS 2019): plain ERM, then Class-Balanced
weights (β = 0.9999) from the first LR decay on. Data, network, schedule and arguments: ``digits_lt_erm``.

  python -m jaxtricks.training --config=digits_lt_drw:imbalance=50
  python -m jaxtricks.training --config=digits_lt_drw:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "drw")
