"""GoogLeNet with and without its auxiliary classifiers (Szegedy et al., CVPR 2015) on 8×8 digits.

Inception v1 in torchvision's layout at a quarter of its width with the CIFAR stem (one 3×3 conv; the
auxiliary heads see 4×4 maps after the first pool); training loss ``CE + 0.3·(CE(aux1) + CE(aux2))``
with ``:aux=1``, the same network without the heads with ``:aux=0``; the heads are not run at test
time. SGD momentum 0.9, LR 0.1 per 64 examples, 2 warm-up epochs + cosine over 30 epochs, weight decay
5e-4, 1-pixel random crop.

  python -m jaxtricks.training --config=digits_googlenet:aux=1,seed=0
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, aux=True)
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  c.model.name = "googlenet"
  c.model.googlenet.update(stem="cifar", width=0.0625 if arg.smoke else 0.25, aux_logits=arg.aux,
                           dropout_rate=0.2, aux_dropout_rate=0.7)
  c.loss.aux_weight = 0.3 if arg.aux else 0.0
  return c
