"""Long-tailed digits: Class-Balanced softmax cross-entropy (Cui et al., CVPR 2019), β = 0.9999.

Everything else as ``digits_lt_erm``, whose ``:imbalance=..,seed=..,smoke`` it takes.

  python -m jaxtricks.training --config=digits_lt_cb_softmax:imbalance=50
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "cb_softmax")
