"""Long-tailed digits: SMOTE (imbalanced-learn rule, k = 5) in input space: the training stream samples
the data plus synthetic points that balance every class. The rest, arguments included: ``digits_lt_erm``.

  python -m jaxtricks.training --config=digits_lt_smote:imbalance=50
  python -m jaxtricks.training --config=digits_lt_smote:smoke          # a seconds-long check
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "smote")
