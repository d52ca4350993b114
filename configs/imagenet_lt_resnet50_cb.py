"""ImageNet-LT-style long tail, ResNet-50-D, Class-Balanced focal loss (Cui et al., CVPR 2019).

The training split keeps a Pareto (power-law) tail of 1,280 down to 5 images per class
(``dataset.imbalance_profile="power"``, IF = 256: the end points of ImageNet-LT, Liu et al., CVPR 2019,
not its list of class sizes); the validation split stays balanced. The CB paper's large-scale
setting: focal loss with γ = 0.5, β = 0.999 (effective number of samples), the head's bias started at
−log(C − 1), twice the LR of the softmax baseline; otherwise ``imagenet_resnet50``'s recipe at 90 epochs.

  python -m jaxtricks.training --config=imagenet_lt_resnet50_cb:source=folder --config.dataset.path=~/imagenet
  python -m jaxtricks.training --config=imagenet_lt_resnet50_cb:smoke
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, source="tfds")
  c = sibling_config(__file__, "imagenet_resnet50",
                     f"source={arg.source},seed={arg.seed}" + (",smoke" if arg.smoke else ""))
  c.dataset.update(imbalance_factor=256.0, imbalance_profile="power")
  c.loss.update(type="focal", gamma=0.5, class_balanced_beta=0.999)
  c.model.resnet.prior_bias = True
  c.optim.lr *= 2
  c.train.num_epochs = 90
  c.train.label_smoothing = 0.0
  if arg.smoke:  # 20 images of the largest class: a tail of 20 down to 4 over the 10 digits.
    c.dataset.imbalance_factor = 5.0
    c.train.num_epochs = 2
  return c
