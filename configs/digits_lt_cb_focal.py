"""Long-tailed digits: Class-Balanced focal loss (sigmoid, γ = 1), β = 0.9999, head bias −log(C−1) — the
CB paper's best CIFAR-10 setting — on ``digits_lt_erm`` (its data, network, schedule and ``:arg``).

  python -m jaxtricks.training --config=digits_lt_cb_focal:imbalance=50
  python -m jaxtricks.training --config=digits_lt_cb_focal:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "cb_focal")
