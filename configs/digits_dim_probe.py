"""Linear probe of a Deep InfoMax encoder on digits: ``digits_dim`` (``:estimator=jsd|nce|dv``) is
trained first into ``WORKDIR/pretrained``, then a new linear head on its pooled last-conv features is
trained with labels while the encoder and its BatchNorm statistics stay frozen. ``:estimator=random``
probes the same encoder at its random initialisation (the baseline).

  python -m jaxtricks.training --config=digits_dim_probe:estimator=jsd
"""

from jaxtricks.training.config import parse_arg, set_task, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, estimator="jsd")
  pretrained = arg.estimator != "random"
  c = sibling_config(__file__, "digits_dim", f"smoke={arg.smoke},seed={arg.seed},estimator="
                     + (arg.estimator if pretrained else "jsd"))
  if pretrained:
    c.transfer.pretrain = sibling_config(__file__, "digits_dim", f"smoke={arg.smoke},seed={arg.seed},"
                                         f"estimator={arg.estimator}")
  set_task(c, "classification")
  c.model.dim.infomax_heads = False
  c.transfer.freeze_backbone = True
  c.optim.update(name="sgd", lr=0.1, weight_decay=0.0)
  return c
