"""Relation Network on Sort-of-CLEVR (Santoro et al., NeurIPS 2017; kimhc6028/relational-networks):
``:model=`` ``rn`` (default) or ``cnn_mlp`` (the baseline), 11-d questions of the 2017 generator, 10
non-relational and 10 relational questions per scene, Adam.

``:scale=cpu`` (default) fits two CPU cores (about 10 minutes for the RN): 2,000 training scenes (the
reference: 9,800), ``g`` of 64 units (256), batches of 8 scenes = 160 questions (64), LR 3e-4 (1e-4),
10 epochs (RN 20, CNN+MLP 100): a tenth of the reference's question passes. ``:scale=full`` has the
reference's data, ``g``, LR and epochs, for an accelerator (batches of 8 scenes: 160 questions). Both
test on 200 scenes.

  python -m jaxtricks.training --config=sort_of_clevr_rn:model=cnn_mlp --workdir=runs/cnn_mlp
"""


from jaxtricks.models.relational import KINDS
from jaxtricks.training.config import base_config, parse_arg, set_task

SCALES = ("cpu", "full")


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seed=0, model="rn", scale="cpu", epochs=0)
  if arg.model not in KINDS:
    raise ValueError(f"model must be one of {KINDS}, got {arg.model!r}")
  if arg.scale not in SCALES:
    raise ValueError(f"scale must be one of {SCALES}, got {arg.scale!r}")
  full = arg.scale == "full"
  c = set_task(base_config(), "relational")
  c.seed = arg.seed
  c.dataset.update(source="sort_of_clevr", version="2017", num_train=9800 if full else 2000,
                   num_test=200, standardize=False)
  c.model.name = "relational"
  c.model.relational.update(kind=arg.model, g_units=256 if full else 64)
  c.optim.update(name="adamw", lr=1e-4 if full else 3e-4, reference_batch=8,
                 weight_decay=0.0, schedule="constant", warmup_epochs=0)
  c.train.batch_size = 8  # Scenes; each brings its 20 questions.
  epochs = (20 if arg.model == "rn" else 100) if full else 10
  c.train.num_epochs = arg.epochs or epochs
  c.eval_batch_size = 40
  c.eval_every_epochs = 2
  c.log_every_steps = 50
  c.checkpoint_every_steps = 500
  if arg.smoke:
    c.dataset.update(num_train=64, num_test=16)
    c.model.relational.g_units = 16
    c.optim.lr = 1e-3
    c.train.num_epochs = 1
    c.eval_batch_size = 16
    c.eval_every_epochs = 1
    c.log_every_steps = 4
  return c
