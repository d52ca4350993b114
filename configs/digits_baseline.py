"""Baseline for ``default.py``: the same data, network depth and augmentation, without the tricks.

Plain ResNet-20 (v1, γ=1 everywhere), SGD momentum 0.9 with the LR ×0.1 at 50 % and 75 % of training,
no warm-up, weight decay on every parameter, one-hot targets, no mixup.

  python -m jaxtricks.training --config=configs/digits_baseline.py
"""

from jaxtricks.training.config import base_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = base_config()
  c.seed = arg.seed
  c.dataset.source = "digits"
  c.dataset.image_size = 32
  c.dataset.channels = 3
  c.dataset.imbalance_factor = 10.0
  c.augment.crop_padding = 4

  c.model.name = "resnet"
  c.model.depth = 20
  c.model.variant = "v1"

  c.optim.name = "sgd"
  c.optim.lr = 0.4  # Per 256 examples: 0.1 at the batch of 64 used here.
  c.optim.weight_decay = 5e-4
  c.optim.schedule = "step"
  c.optim.decay_epochs = (30, 45)

  c.train.batch_size = 64
  c.train.num_epochs = 60

  c.eval_every_epochs = 10
  c.log_every_steps = 20
  c.checkpoint_every_steps = 100
  if arg.smoke:
    c.model.depth = 8
    c.model.width = 8
    c.train.batch_size = 32
    c.train.num_epochs = 2
    c.optim.decay_epochs = (1,)
    c.eval_every_epochs = 1
    c.log_every_steps = 5
    c.checkpoint_every_steps = 10
  return c
