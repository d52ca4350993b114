"""Baseline for ``default.py``: the same data, network depth and augmentation, without the tricks.

Plain ResNet-20 (v1, γ=1 everywhere), SGD momentum 0.9 with the LR ×0.1 at 50 % and 75 % of training,
no warm-up, weight decay on every parameter, one-hot targets, no mixup, no logit adjustment.

  python -m jaxtricks.training --config=digits_baseline
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = sibling_config(__file__, "default", f"smoke={arg.smoke},seed={arg.seed}")
  c.model.resnet.update(variant="v1", zero_gamma=False)
  c.optim.nesterov = False
  c.optim.no_bias_decay = False
  c.optim.schedule = "step"
  c.optim.warmup_epochs = 0
  epochs = c.train.num_epochs
  c.optim.decay_epochs = (epochs // 2, epochs * 3 // 4)
  c.train.label_smoothing = 0.0
  c.train.mixup_alpha = 0.0
  c.train.mixup_off_epochs = 0
  c.loss.logit_adjustment = 0.0
  return c
