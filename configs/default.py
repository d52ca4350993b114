"""Default recipe: ResNet-20 on long-tailed 32×32 digits (IF=10) with the Bag of Tricks (He et al., 2019).

Tricks on: ResNet-D + zero-γ, Nesterov SGD with linear LR scaling, 5-epoch linear warm-up + cosine,
no bias decay, mixup α=0.2 (off for the last 5 epochs), pad-4 random crop; for the long tail, logit
adjustment τ = 1 (Menon et al., 2021) in place of label smoothing, which does not compose with it.
(No horizontal flip: digits are not mirror-symmetric.) 100 epochs, about 3 minutes on 2 CPU cores.
Chosen by ``python -m jaxtricks.experiments.bag_of_tricks`` (docs/results.md), which stacks the tricks
one at a time on ``digits_baseline.py``.

  python -m jaxtricks.training                               # this config
  python -m jaxtricks.training --config=default:smoke
  python -m jaxtricks.training --config=default:seed=2 --config.optim.lr=0.2
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
  c.model.resnet.update(depth=20, variant="d", zero_gamma=True)

  c.optim.name = "sgd"
  c.optim.nesterov = True
  c.optim.lr = 0.4  # Per 256 examples: 0.1 at the batch of 64 used here.
  c.optim.weight_decay = 5e-4
  c.optim.no_bias_decay = True
  c.optim.schedule = "cosine"
  c.optim.warmup_epochs = 5

  c.train.batch_size = 64
  c.train.num_epochs = 100
  c.train.mixup_alpha = 0.2
  c.train.mixup_off_epochs = 5
  c.loss.logit_adjustment = 1.0

  c.eval_every_epochs = 10
  c.log_every_steps = 20
  c.checkpoint_every_steps = 100
  if arg.smoke:
    _smoke(c)
  return c


def _smoke(c):
  """Seconds on CPU: a tiny ResNet for two epochs."""
  c.model.resnet.update(depth=8, width=8)
  c.train.batch_size = 32
  c.train.num_epochs = 2
  c.train.mixup_off_epochs = 1
  c.optim.warmup_epochs = 1
  c.eval_every_epochs = 1
  c.log_every_steps = 5
  c.checkpoint_every_steps = 10
