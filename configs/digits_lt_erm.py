"""Long-tailed digits, plain ERM: the base of the ``digits_lt_*`` imbalance recipes.

SmallCNN on 8×8 digits, training split long-tailed with the CB-paper profile (``:imbalance=10|50|100``),
balanced test split; SGD momentum 0.9, weight decay 5e-4, 5 warm-up epochs, LR ×0.01 at epoch 32 and 36
of 40 (the CB/M2m CIFAR schedule, compressed). Seconds to a minute on a CPU.

  python -m jaxtricks.training --config=digits_lt_erm:imbalance=50,seed=1
"""

from jaxtricks.training.config import base_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, imbalance=10.0)
  c = base_config()
  c.seed = arg.seed
  c.dataset.source = "digits"
  c.dataset.imbalance_factor = arg.imbalance
  c.augment.crop_padding = 1
  c.model.name = "cnn"
  c.model.cnn.width = 32

  c.optim.name = "sgd"
  c.optim.lr = 0.1
  c.optim.reference_batch = 64
  c.optim.weight_decay = 5e-4
  c.optim.schedule = "step"
  c.optim.warmup_epochs = 5
  c.optim.decay_epochs = (32, 36)
  c.optim.decay_factor = 0.01

  c.train.batch_size = 64
  c.train.num_epochs = 40
  c.eval_every_epochs = 10
  c.log_every_steps = 20
  c.checkpoint_every_steps = 500
  if arg.smoke:
    c.model.cnn.width = 8
    c.train.num_epochs = 2
    c.optim.warmup_epochs = 1
    c.optim.decay_epochs = (1, 2)
    c.eval_every_epochs = 1
    c.log_every_steps = 2
  return c
