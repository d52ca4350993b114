"""Long-tailed digits: Class-balanced over-sampling: every epoch draws examples with probability ∝ 1/N_y.
On ``digits_lt_erm``: same data, network and schedule, same ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=digits_lt_oversample:imbalance=50
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "oversample")
