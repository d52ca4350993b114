"""Training: train state, pure data-parallel steps, optimizers and schedules, the fit loop, the CLI."""

from jaxtricks.training.config import base_config, parse_arg
from jaxtricks.training.optim import (create_optimizer, learning_rate_schedule, warmup_cosine_schedule,
                                      warmup_step_schedule)
from jaxtricks.training.steps import (Recipe, TrainState, create_train_state, eval_step, parallelize,
                                      train_step)
from jaxtricks.training.trainer import evaluate, fit
