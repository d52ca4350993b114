"""Long-tailed digits: logit-adjusted loss (Menon et al., ICLR 2021), τ = 1 (= Balanced Softmax, Ren et
al., NeurIPS 2020): softmax cross-entropy of ``logits + τ·log π`` in training, plain logits at test.

Otherwise the recipe ``digits_lt_erm`` (with its arguments).

  python -m jaxtricks.training --config=digits_lt_logit_adjust:imbalance=100
  python -m jaxtricks.training --config=digits_lt_logit_adjust:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "logit_adjust")
