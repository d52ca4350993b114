"""Training families: one module per family, each with ``config_blocks()`` (its config keys) and
``from_config(config, data, runs)`` (the task object the trainer runs). ``TASKS`` is the one table
from ``config.task`` to a family."""

from jaxtricks.tasks import (classification, infogan, infomax, metric_learning, multitask, open_set,
                             relational, semi_supervised, sla)
from jaxtricks.tasks.base import (Augment, Data, SingleNet, StepKeys, Task, TrainState,
                                  create_train_state, step_keys)
from jaxtricks.tasks.classification import Classification, Targets
from jaxtricks.tasks.distillation import Distillation
from jaxtricks.tasks.evaluation import BatchEvaluator, EvalOut

TASKS = {"classification": classification, "metric_learning": metric_learning, "sla": sla,
         "open_set": open_set, "infomax": infomax, "multitask": multitask,
         "infogan": infogan, "relational": relational, "semi_supervised": semi_supervised}


def task_family(name: str):
  """The module of task ``name`` (``config.task``)."""
  if name not in TASKS:
    raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
  return TASKS[name]
