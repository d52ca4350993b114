"""Training families: one module per family, each a :class:`~jaxtricks.tasks.base.Family`
(``config_blocks()``, ``output_size``, ``from_config(config, data, runs)`` → the task the trainer runs,
``GENERATIONS``, ``STREAMED_IMAGES``). ``TASKS`` is the one table from ``config.task`` to a family."""

from jaxtricks.tasks import (classification, infogan, infomax, metric_learning, multitask, open_set,
                             relational, semi_supervised, sla)
from jaxtricks.tasks.base import (Augment, Batches, Data, Family, Net, SingleNet, StepKeys, Task, TrainState,
                                  create_train_state, step_keys)
from jaxtricks.tasks.classification import Classification, Targets
from jaxtricks.tasks.distillation import Distillation
from jaxtricks.tasks.evaluation import BatchEvaluator, EvalOut, EvalSpec

TASKS: dict[str, Family] = {"classification": classification, "metric_learning": metric_learning, "sla": sla,
         "open_set": open_set, "infomax": infomax, "multitask": multitask,
         "infogan": infogan, "relational": relational, "semi_supervised": semi_supervised}


def task_family(name: str) -> Family:
  """The module of task ``name`` (``config.task``)."""
  if name not in TASKS:
    raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
  return TASKS[name]
