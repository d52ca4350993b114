"""Distillation on digits, the student alone: a small CNN (width 8) trained with cross-entropy.

The base of the ``digits_kd*`` / ``digits_rkd*`` recipes (same data, network and schedule): SGD
momentum 0.9, LR 0.1 per 64 examples, 2 warm-up epochs + cosine over 30 epochs, weight decay 5e-4,
1-pixel random crop. Under a minute on a CPU.

  python -m jaxtricks.training --config=digits_student:seed=1
"""

from jaxtricks.training.config import base_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = base_config()
  c.seed = arg.seed
  c.dataset.source = "digits"
  c.augment.crop_padding = 1
  c.model.name = "cnn"
  c.model.cnn.width = 8

  c.optim.name = "sgd"
  c.optim.lr = 0.1
  c.optim.reference_batch = 64
  c.optim.weight_decay = 5e-4
  c.optim.schedule = "cosine"
  c.optim.warmup_epochs = 2

  c.train.batch_size = 64
  c.train.num_epochs = 30
  c.eval_every_epochs = 10
  c.log_every_steps = 20
  c.checkpoint_every_steps = 500
  if arg.smoke:
    c.model.cnn.width = 4
    c.train.num_epochs = 1
    c.optim.warmup_epochs = 0
    c.eval_every_epochs = 1
    c.log_every_steps = 5
  return c
