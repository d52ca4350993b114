"""Robust features (Ilyas et al., NeurIPS 2019): a fresh standard CNN (``digits_nonrobust``'s
``kind=none`` recipe, unchanged) trained on a training split rebuilt by representation inversion
(``constructed.kind=inversion``): every digit is replaced by the image that starts from another
training digit and matches the digit's penultimate representation in a source model, label kept.
``:kind=robust`` (D_R): the source is ``digits_adversarial`` (L2 ε = 0.5); ``:kind=nonrobust`` (D_NR,
the paper's control): the source is the standard model; ``:kind=none``: the original digits. Each is
tested clean and under L2 PGD at ε = 0.5, as ``digits_adversarial``.

Inversion: 200 normalised L2 steps of 0.1 (the ``robustness`` library's example: 10000 of 1 on
CIFAR; measured here: the relative representation distance falls from ≈ 0.8 to ≈ 0.09), best
iterate kept. The source is trained first into ``WORKDIR/source``
with the run's seed.

  python -m jaxtricks.training --config=digits_robust_features:kind=robust,seed=0   # :smoke too
"""

from jaxtricks.training.config import parse_arg, sibling_config

KINDS = ("robust", "nonrobust", "none")


def _standard(arg: str):
  c = sibling_config(__file__, "digits_adversarial", arg)
  c.adv_train.epsilon = 0.0  # Standard training, tested under digits_adversarial's attack.
  return c


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, kind="robust")
  if arg.kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {arg.kind!r}")
  common = f"smoke={arg.smoke},seed={arg.seed}"
  c = _standard(common)
  if arg.kind == "none":
    return c
  c.constructed.source = (sibling_config(__file__, "digits_adversarial", common) if arg.kind == "robust"
                          else _standard(common))
  c.constructed.update(kind="inversion", step_size=0.1, steps=5 if arg.smoke else 200)
  return c
