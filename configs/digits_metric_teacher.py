"""Metric learning on digits, the teacher: ResNet-20 with a 64-d l2-normalised embedding, batch-hard
triplet loss (margin 0.2), trained on digits 0–4 and evaluated by Recall@K on the unseen digits 5–9
(the CUB-200 / Cars-196 protocol of the RKD paper, in small). Adam, LR 1e-3, weight decay 1e-5.

  python -m jaxtricks.training --config=digits_metric_teacher --workdir=runs/metric_teacher
"""

from jaxtricks.training.config import base_config, parse_arg, set_task


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0)
  c = base_config()
  c.seed = arg.seed
  set_task(c, "metric_learning")
  c.dataset.source = "digits"
  c.dataset.train_classes = (0, 1, 2, 3, 4)
  c.dataset.test_classes = (5, 6, 7, 8, 9)
  c.augment.crop_padding = 1
  c.model.update(name="resnet", embedding_dim=64)
  c.model.resnet.update(depth=20, width=16, l2_normalize=True)
  c.loss.margin = 0.2

  c.optim.name = "adamw"
  c.optim.lr = 1e-3
  c.optim.reference_batch = 128
  c.optim.weight_decay = 1e-5
  c.optim.schedule = "cosine"

  c.train.batch_size = 128
  c.train.num_epochs = 40
  c.eval_every_epochs = 10
  c.log_every_steps = 10
  c.checkpoint_every_steps = 500
  if arg.smoke:
    c.model.resnet.update(depth=8, width=4)
    c.train.num_epochs = 2
    c.eval_every_epochs = 1
    c.log_every_steps = 2
  return c
