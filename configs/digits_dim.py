"""Deep InfoMax on digits (Hjelm et al., ICLR 2019): local DIM with the ``:estimator=`` ``jsd``
(default), ``nce`` or ``dv`` bound between the 4×4 local map and a 64-d code, plus prior matching of
``sigmoid(code)`` to U(0, 1) (weight 0.1). No labels are used. Adam, LR 1e-3 per 64 examples, 30
epochs; the test metric is the estimator's loss on held-out batches. Evaluate the encoder with
``digits_dim_probe.py``.

  python -m jaxtricks.training --config=digits_dim:estimator=nce --workdir=runs/dim_nce
"""

from jaxtricks.tasks.infomax import ESTIMATORS
from jaxtricks.training.config import parse_arg, set_task, sibling_config


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, estimator="jsd")
  if arg.estimator not in ESTIMATORS:
    raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {arg.estimator!r}")
  c = sibling_config(__file__, "digits_student", f"smoke={arg.smoke},seed={arg.seed}")
  set_task(c, "infomax")
  c.model.update(name="dim", embedding_dim=64)
  c.model.dim.update(width=4 if arg.smoke else 32, mi_units=16 if arg.smoke else 128)
  c.infomax.estimator = arg.estimator
  c.optim.update(name="adamw", lr=1e-3, weight_decay=0.0, warmup_epochs=0)
  c.eval_batch_size = 128
  return c
