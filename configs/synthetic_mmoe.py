"""MMoE on its synthetic two-task regression data (Ma et al., KDD 2018; keras-mmoe's demo): task
relatedness ``:rho=`` (default 0.8, the cosine of the tasks' weight vectors), ``:model=`` ``mmoe``
(default), ``omoe`` or ``shared_bottom``. 8 experts of 16 units (``:experts=``, ``:units=``; the
Shared-Bottom layer is sized to OMoE's parameter count), towers Dense(8)–Dense(1), MSE per task
summed, Adam LR 1e-4 (``:lr=``; keras-mmoe's values), batch 32. 10,000 training rows, the demo's 1,000
test rows; ``eval/mse_0``, ``eval/mse_1`` per task.

  python -m jaxtricks.training --config=synthetic_mmoe:model=omoe,rho=0.5 --workdir=runs/omoe_rho0.5
"""

from jaxtricks.models.multitask import KINDS
from jaxtricks.training.config import base_config, parse_arg, set_task


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, data_seed=1, model="mmoe", rho=0.8, epochs=100, experts=8,
                  units=16, lr=1e-4)
  if arg.model not in KINDS:
    raise ValueError(f"model must be one of {KINDS}, got {arg.model!r}")
  c = set_task(base_config(), "multitask")
  c.seed = arg.seed
  c.dataset.update(source="mmoe_synthetic", split_seed=arg.data_seed, rho=arg.rho)
  c.model.name = "multitask"
  c.model.multitask.update(kind=arg.model, num_experts=arg.experts, units=arg.units, tower_hidden=8)
  c.optim.update(name="adamw", lr=arg.lr, reference_batch=32, weight_decay=0.0, schedule="constant",
                 warmup_epochs=0)
  c.train.batch_size = 32
  c.train.num_epochs = arg.epochs
  c.eval_batch_size = 200
  c.eval_every_epochs = 10
  c.log_every_steps = 100
  c.checkpoint_every_steps = 5000
  if arg.smoke:
    c.train.num_epochs = 1
    c.eval_every_epochs = 1
    c.optim.lr = 1e-3
  return c
