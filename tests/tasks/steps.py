"""Running a task's train step on a chosen parallel path and number of devices (shared by the task
tests)."""

from pathlib import Path

import jax

from jaxtricks.data import TrainBatches
from jaxtricks.parallel import DataParallel
from jaxtricks.training.checkpoints import Checkpoints

# Every way one process runs a step: the mesh over 8, 2 and 1 devices, and pmap over 8.
TOPOLOGIES = (("mesh", 8), ("mesh", 2), ("mesh", 1), ("pmap", 8))


def run_steps(task, train, parallel: str = "mesh", num_devices: int = 1, *, steps: int = 2,
              batch_size: int = 64, batches=None, resume_on: tuple[str, int] | None = None,
              workdir: Path | None = None):
  """``(state, last metrics)`` on the host after ``steps`` steps from ``task.init(0)``.

  With ``resume_on=(parallel, num_devices)`` the state after the first step is checkpointed into
  ``workdir`` and the run goes on from its restored copy on that other topology."""
  batches = batches or TrainBatches(train, batch_size, seed=0)
  p = DataParallel(parallel, num_devices)
  step, state = p.step(task.train_step), p.replicate(task.init(0))
  for s in range(steps):
    if s == 1 and resume_on is not None:
      _save(p, workdir, state)
      p = DataParallel(*resume_on)
      step, state = p.step(task.train_step), _restore(p, workdir, p.replicate(task.init(0)))
    state, metrics = step(state, batches.batch(s))
  return jax.device_get(state), jax.device_get(metrics)


def _save(parallel, workdir, state):
  checkpoints = Checkpoints(workdir, max_to_keep=1, parallel=parallel)
  checkpoints.save(int(state.step), state)
  checkpoints.close()


def _restore(parallel, workdir, like):
  checkpoints = Checkpoints(workdir, max_to_keep=1, parallel=parallel)
  state = checkpoints.restore(like)
  checkpoints.close()
  return state


def run_on_every_topology(task, train, workdir: Path, **kwargs):
  """``[(topology, (state, metrics))]``: :func:`run_steps` on each of :data:`TOPOLOGIES`, each
  checkpointed after its first step and resumed on the next topology (8 → 2 → 1 devices → pmap 8 →
  mesh 8)."""
  out = []
  for i, topology in enumerate(TOPOLOGIES):
    resume_on = TOPOLOGIES[(i + 1) % len(TOPOLOGIES)]
    out.append((topology, run_steps(task, train, *topology, resume_on=resume_on,
                                    workdir=workdir / "-".join(map(str, topology)), **kwargs)))
  return out
