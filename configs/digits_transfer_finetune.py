"""Transfer learning on digits, fine-tuning: a small CNN (width 32) pretrained on digits 0–4 gets a
new 5-way head and is fine-tuned on digits 5–9, the backbone at 0.1× the head's learning rate.
The source run is trained first into ``WORKDIR/pretrained`` (or taken from ``transfer.init_from``).

  python -m jaxtricks.training --config=digits_transfer_finetune:scratch  # the baseline
  python -m jaxtricks.training --config=digits_transfer_finetune
"""

from jaxtricks.training.config import parse_arg, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, scratch=False, source=False)
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  c.model.cnn.width = 4 if arg.smoke else 32
  c.train.num_epochs = 1 if arg.smoke else 10
  if arg.source:
    c.dataset.train_classes = c.dataset.test_classes = (0, 1, 2, 3, 4)
    c.train.num_epochs = 1 if arg.smoke else 30
    return c
  c.dataset.train_classes = c.dataset.test_classes = (5, 6, 7, 8, 9)
  if not arg.scratch:
    c.transfer.pretrain = get_config(f"smoke={arg.smoke},source")
    c.transfer.backbone_lr_factor = 0.1
  return c
