"""Long-tailed digits: Class-Balanced sigmoid (one-vs-all) cross-entropy, β = 0.9999, head bias
−log(C−1); otherwise ``digits_lt_erm`` (its data, network, schedule and ``:arg``).

  python -m jaxtricks.training --config=digits_lt_cb_sigmoid:imbalance=50
  python -m jaxtricks.training --config=digits_lt_cb_sigmoid:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "cb_sigmoid")
