"""Active learning on digits: every query strategy, a small CNN with MC dropout, 3 seeds.

Pool = the digits training split (1,257 images); 20 random labelled examples to start, then 8 rounds
of 20 queries. Each round trains the CNN (width 16, dropout 0.3 before the head, so BALD has MC
dropout; ``model.cnn.pool_dropout_rate`` adds Gal et al.'s dropout after the pooling layer) for 200
steps of batch 16 from the seed's initial parameters (the ALFA-Mix protocol; set ``active.warm_start``
to continue from the previous round), Adam with LR 1e-3. ALFA-Mix uses the closed-form α with cap step
0.2 (the paper's setting).

  python -m jaxtricks.active --config=active_digits --workdir=runs/active
  python -m jaxtricks.active --config=active_digits:smoke
"""

from jaxtricks.active.loop import active_block
from jaxtricks.training.config import base_config, parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, smoke=False, seeds=3)
  c = base_config()
  c.dataset.source = "digits"
  c.augment.crop_padding = 1
  c.model.name = "cnn"
  c.model.cnn.update(width=16, dropout_rate=0.3, pool_dropout_rate=0.0)
  c.optim.name = "adamw"
  c.optim.lr = 1e-3
  c.optim.reference_batch = 16
  c.optim.weight_decay = 1e-4
  c.optim.schedule = "constant"
  c.train.batch_size = 16
  c.train.num_epochs = 1  # Unused: rounds are counted in steps (active.steps_per_round).

  with c.unlocked():
    c.active = active_block()  # Every strategy; 20 to start, 8 rounds of 20 queries, 200 steps each.
  c.active.seeds = arg.seeds
  if arg.smoke:
    c.active.seeds = 2
    c.active.rounds = 2
    c.active.budget = 16
    c.active.initial = 16
    c.active.steps_per_round = 3
    c.model.cnn.width = 4
  return c
