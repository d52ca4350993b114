"""CIFAR-10 (TFDS), ResNet-32, the CIFAR recipe of the Class-Balanced loss paper's official code.

Batch 128, SGD momentum 0.9, weight decay 2e-4 on all parameters, LR 0.1 per 128 examples with a
5-epoch linear warm-up, ×0.01 at epoch 160 and again at 180 (Cui et al., CVPR 2019), 200 epochs,
pad-4 random crop + horizontal flip. Needs ``pip install -e ".[tfds]"`` and a prepared ``cifar10``.

  python -m jaxtricks.training --config=cifar10_resnet32
  --config.dataset.data_dir=~/tensorflow_datasets
"""

from jaxtricks.training.config import base_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, imbalance=1.0)
  c = base_config()
  c.seed = arg.seed
  c.dataset.source = "tfds"
  c.dataset.tfds_name = "cifar10"
  c.dataset.imbalance_factor = arg.imbalance
  c.augment.crop_padding = 4
  c.augment.flip = True

  c.model.name = "resnet"
  c.model.resnet.update(depth=32, variant="v1")

  c.optim.name = "sgd"
  c.optim.lr = 0.1
  c.optim.reference_batch = 128
  c.optim.momentum = 0.9
  c.optim.weight_decay = 2e-4
  c.optim.schedule = "step"
  c.optim.warmup_epochs = 5
  c.optim.decay_epochs = (160, 180)
  c.optim.decay_factor = 0.01

  c.train.batch_size = 128
  c.train.num_epochs = 200
  c.eval_batch_size = 1000
  c.eval_every_epochs = 2
  c.log_every_steps = 100
  c.checkpoint_every_steps = 1000
  if arg.smoke:
    c.model.resnet.update(depth=8, width=8)
    c.train.batch_size = 64
    c.train.num_epochs = 2
    c.optim.warmup_epochs = 1
    c.optim.decay_epochs = (1, 2)
    c.eval_batch_size = 256
    c.eval_every_epochs = 1
    c.log_every_steps = 1
    c.checkpoint_every_steps = 2
  return c
