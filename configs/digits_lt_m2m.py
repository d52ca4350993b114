"""Long-tailed digits: M2m (Kim, Jeong & Shin, CVPR 2020).

First trains g with ``digits_lt_erm.py``'s recipe (into ``WORKDIR/generator``; or give a trained one with
``--config.m2m.generator_workdir``), then trains f, generating minority samples from the first LR decay
on, over a class-balanced over-sampled stream: T = 10 steps of size 0.1, λ = 0.5, γ = 0.9, β = 0.999.
Inputs are standardised, so translation is clamped to the training data's range. Takes the same
``:imbalance=..,seed=..,smoke`` as ``digits_lt_erm.py``.

  python -m jaxtricks.training --config=digits_lt_m2m:imbalance=50
"""

from jaxtricks.imbalance.recipes import long_tail_recipe

get_config = long_tail_recipe(__file__, "digits_lt_erm", "m2m")
