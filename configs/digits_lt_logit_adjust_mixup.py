"""Long-tailed digits: logit adjustment τ = 1 (Menon et al., ICLR 2021) with mixup α = 0.2, 80 epochs;
``digits_lt_erm_mixup.py`` is its control. At equal epochs mixup adds nothing to logit adjustment
(10 seeds, ``docs/results.md``): the earlier "best combination" owed its lead to the doubled budget.

Mixup mixes the one-hot targets; the loss is the cross-entropy of ``logits + log π`` against them.
No label smoothing: its ε/C target mass on every class, placed on the adjusted logits, raises the rare
classes' plain logits on every image (3 seeds: 62.6 % at IF=50 with τ = 1.5; with τ = 1, +2.5 points at
IF=50 but −3.9 at IF=100). Takes ``digits_lt_erm``'s ``:imbalance=..,seed=..,smoke``.

  python -m jaxtricks.training --config=digits_lt_logit_adjust_mixup:imbalance=100
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "logit_adjust_mixup")
