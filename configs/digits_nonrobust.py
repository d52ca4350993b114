"""Non-robust features on digits (Ilyas et al., NeurIPS 2019): a standard CNN (``digits_student`` at
width 16 on [0, 1] pixels, trained first into ``WORKDIR/source``) moves every training image towards a
target class by targeted L2 PGD (ε = 1 over the 64 pixels, step 0.2, 100 steps, best iterate), the
image is relabelled with the target, and a fresh CNN of the same kind trained on these pairs alone
(no augmentation) is tested on the clean test set. ``:kind=det`` (t = y + 1 mod 10), ``rand``
(t uniform) or ``none`` (the standard model's own recipe).

  python -m jaxtricks.training --config=digits_nonrobust:kind=det,seed=0
"""

from jaxtricks.training.config import parse_arg, sibling_config


def _standard(smoke: bool, seed: int):
  c = sibling_config(__file__, "digits_student", f"smoke={smoke},seed={seed}")
  c.dataset.standardize = False  # The attack's ε and clamping are in pixel units.
  c.model.cnn.width = 4 if smoke else 16
  return c


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, kind="det")
  c = _standard(arg.smoke, arg.seed)
  if arg.kind == "none":
    return c
  n = c.constructed
  n.kind = arg.kind
  n.source = _standard(arg.smoke, 0)  # One standard model for every seed of the experiment.
  n.epsilon, n.step_size, n.steps = 1.0, 0.2, 100
  c.augment.crop_padding = 0  # As the paper: the relabelled images are used as they are.
  if arg.smoke:
    n.steps = 5
  return c
