"""Adversarial training on digits (Madry et al., ICLR 2018): the standard CNN of ``digits_nonrobust``
(``digits_student`` at width 16 on [0, 1] pixels) trained on PGD examples made against its current
parameters: 7 steps of 2.5·ε/7 from a random start (Madry's step rule; the ``robustness`` library
defaults to 7 steps), ε = 0.5 in L2 (``:norm=linf``: ε = 0.1; ``:epsilon=`` another radius). Robust
accuracy is measured by a 20-step PGD of step 2.5·ε/20 from a random start at the same ε (the
``robustness`` README's evaluation).

Scale: a digit (8×8, [0, 1]) has L2 norm ≈ 3.9, so ε = 0.5 is 13 % of it; CIFAR's ε = 0.5 is ≈ 2 % of
its ≈ 28. Measured once on this CPU (seed 0): the standard model keeps 25 % of the test digits at
L2 ε = 0.5 and none at ε = 1.0, so ε = 0.5 is a real threat here without erasing the digit.

  python -m jaxtricks.training --config=digits_adversarial:seed=0      # :smoke for a quick check
"""

from jaxtricks.training.config import parse_arg, sibling_config

EPSILON = {"l2": 0.5, "linf": 0.1}


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, norm="l2", epsilon=0.0)  # epsilon 0: the norm's default.
  if arg.norm not in EPSILON:
    raise ValueError(f"norm must be one of {tuple(EPSILON)}, got {arg.norm!r}")
  c = sibling_config(__file__, "digits_nonrobust", f"smoke={arg.smoke},seed={arg.seed},kind=none")
  epsilon = arg.epsilon or EPSILON[arg.norm]
  c.adv_train.update(epsilon=epsilon, step_size=2.5 * epsilon / 7, steps=7, norm=arg.norm,
                     random_start=True)
  c.eval_pgd.update(epsilon=epsilon, step_size=2.5 * epsilon / 20, steps=20, norm=arg.norm)
  return c
