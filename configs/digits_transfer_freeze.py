"""Transfer learning on digits, frozen backbone: ``digits_transfer_finetune``'s source network with a
new 5-way head trained on digits 5–9 while the backbone and its BatchNorm statistics stay frozen
(``optax.multi_transform`` with ``optax.set_to_zero``; the network runs in inference mode).
Takes ``digits_transfer_finetune``'s ``:smoke,seed=N,scratch``.

  python -m jaxtricks.training --config=digits_transfer_freeze
"""

from jaxtricks.training.config import sibling_config


def get_config(arg=None):
  c = sibling_config(__file__, "digits_transfer_finetune", arg)
  c.transfer.backbone_lr_factor = 1.0
  c.transfer.freeze_backbone = True
  return c
