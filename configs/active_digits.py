"""Active learning on digits: every query strategy, a small CNN with MC dropout, 3 seeds.

Pool = the digits training split (1,257 images); 20 random labelled examples to start, then 8 rounds
of 20 queries. Each round trains the CNN (width 16, dropout 0.3 before the head, so BALD has MC
dropout; ``model.cnn.pool_dropout_rate`` adds Gal et al.'s dropout after the pooling layer) for 200
steps of batch 16 from the seed's initial parameters (the ALFA-Mix protocol; set ``active.warm_start``
to continue from the previous round), Adam with LR 1e-3. ALFA-Mix uses the closed-form α with cap step
0.2 (the paper's setting).

  python -m jaxtricks.active --config=configs/active_digits.py --workdir=runs/active
  python -m jaxtricks.active --config=configs/active_digits.py:smoke
"""

import ml_collections

from jaxtricks.active.loop import STRATEGIES
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

  c.active = ml_collections.ConfigDict()
  c.active.strategies = STRATEGIES
  c.active.seeds = arg.seeds
  c.active.initial = 20  # Random labelled examples before the first query.
  c.active.budget = 20  # Queries per round.
  c.active.rounds = 8
  c.active.steps_per_round = 200
  c.active.warm_start = False  # Continue from the previous round's parameters.
  c.active.mc_passes = 5  # BALD: MC-dropout forward passes (the ALFA-Mix default).
  c.active.alfamix_cap_step = 0.2
  c.active.alfamix_mode = "closed_form"  # closed_form | learned | random
  if arg.smoke:
    c.active.seeds = 2
    c.active.rounds = 2
    c.active.budget = 16
    c.active.initial = 16
    c.active.steps_per_round = 3
    c.model.cnn.width = 4
  return c
