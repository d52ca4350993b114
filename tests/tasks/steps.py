"""Running a task's train step on a chosen number of devices (shared by the task tests)."""

import jax

from jaxtricks.data import TrainBatches
from jaxtricks.parallel import parallelize, place_state


def run_steps(task, train, parallel: str, num_devices: int, *, steps: int = 2, batch_size: int = 64):
  """``(state, last metrics)`` on the host after ``steps`` steps from ``task.init(0)``."""
  batches = TrainBatches(train, batch_size, seed=0, num_devices=num_devices)
  step = parallelize(task.train_step, parallel)
  state = place_state(task.init(0), parallel, num_devices)
  for s in range(steps):
    state, metrics = step(state, batches.batch(s))
  return jax.device_get(state), jax.device_get(metrics)
