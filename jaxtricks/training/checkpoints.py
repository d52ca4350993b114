"""Checkpoints of any state pytree (orbax), for one process or many.

Orbax saves and restores global arrays: on the mesh path the state is one already (replicated over
every device of every process), so it is saved as is and restored into the shardings of the current run,
whatever topology wrote it (8 devices → 1, 2 hosts → 1, pmap → mesh). A multi-process ``pmap`` run's
host-local copies go through :meth:`DataParallel.to_global`. Saves are asynchronous and atomic: orbax
writes into a temporary directory and renames it when complete, so a run killed during a save resumes
from the last complete checkpoint (the temporary directory is deleted).

A replicated array is written by one replica unless each replica's share would reach
:data:`REPLICA_PARALLEL_BYTES`: orbax's replica-parallel saving cuts every array into one slice per
replica with a program compiled per shape, which for a small network costs more than the parallel write
gains (a GoogLeNet-sized state on 8 CPU devices: 208 slicing programs, 6–12 s of compilation per new
model). Set once for the process by the first :class:`Checkpoints` (orbax's handlers are global).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxtricks.parallel import DataParallel
from jaxtricks.paths import absolute


REPLICA_PARALLEL_BYTES = 8 << 20


@functools.cache
def _register_array_handler() -> None:
  ocp.type_handlers.register_type_handler(
      jax.Array, ocp.type_handlers.ArrayHandler(min_slice_bytes_for_replica_parallel=REPLICA_PARALLEL_BYTES),
      override=True)


class Checkpoints:
  """The checkpoints in ``directory``: ``save(step, state)``, ``restore(like)``, ``latest_step()``;
  ``read_only``: an evaluation's view (nothing created or cleaned up; it never saves); ``best_fn`` /
  ``best_mode``: orbax keeps the best ``max_to_keep`` of the checkpoints saved with metrics."""

  def __init__(self, directory, *, max_to_keep: int, parallel: DataParallel, read_only: bool = False,
               best_fn=None, best_mode: str = "max"):
    _register_array_handler()
    self.parallel = parallel
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=not read_only,
                                           cleanup_tmp_directories=not read_only, best_fn=best_fn,
                                           best_mode=best_mode,
                                           keep_checkpoints_without_metrics=best_fn is None)
    self.manager = ocp.CheckpointManager(absolute(directory), item_handlers=ocp.StandardCheckpointHandler(),
                                         options=options)
    self.directory = self.manager.directory

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: Any) -> None:
    self.manager.save(step, args=ocp.args.StandardSave(self.parallel.to_global(state)))

  def restore(self, like: Any) -> Any:
    """The latest checkpoint, placed like the pytree ``like`` (a state :meth:`DataParallel.replicate`
    placed)."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, self.parallel.to_global(like))
    step = self.latest_step()
    _check_fits(self.manager.item_metadata(step), abstract, self.directory)
    restored = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
    return self.parallel.from_global(restored)

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


BEST = "best_checkpoint"  # WORKDIR/best_checkpoint: the checkpoint of keep_best's best value.


class BestCheckpoint(Checkpoints):
  """The one checkpoint of the best value of the evaluation ``metric`` so far (orbax keeps the best of
  the checkpoints saved with their metrics; a ``*loss`` is minimised, anything else maximised), beside
  the last ones. The best so far is read back from the directory, so it survives a resume."""

  def __init__(self, directory, metric: str, *, parallel: DataParallel):
    self.metric, self.minimise = metric, metric.endswith("loss")
    super().__init__(directory, max_to_keep=1, parallel=parallel, best_fn=lambda m: m[metric],
                     best_mode="min" if self.minimise else "max")
    step = self.manager.best_step()  # (step, value) of the kept checkpoint; saves are asynchronous,
    self.best = None if step is None else (step, self.manager.metrics(step)[metric])  # so it is kept here.

  def offer(self, step: int, metrics: dict[str, Any], state: Any) -> None:
    """Saves ``state`` if ``metrics[metric]`` beats the kept checkpoint's (a resumed run that reaches
    a kept step again computes the same value and saves nothing)."""
    if self.metric not in metrics:
      evaluated = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))
      raise ValueError(f"keep_best={self.metric!r} is not among this run's evaluation metrics {evaluated}")
    value = float(metrics[self.metric])
    if self.best is not None:
      kept_step, kept = self.best
      if kept_step >= step or not (value < kept if self.minimise else value > kept):
        return
    self.manager.save(step, args=ocp.args.StandardSave(self.parallel.to_global(state)),
                      metrics={self.metric: value})
    self.best = (step, value)


def _check_fits(saved: Any, abstract: Any, directory) -> None:
  """A ``ValueError`` naming the first array of the state whose checkpointed shape differs (or that the
  checkpoint lacks): a run of another model or task in this workdir (a user's model whose code
  changed), said before orbax tries to restore it."""
  name = lambda path: jax.tree_util.keystr(path, simple=True, separator="/")  # noqa: E731
  saved = {name(p): leaf for p, leaf in jax.tree_util.tree_leaves_with_path(saved)}
  for path, leaf in jax.tree_util.tree_leaves_with_path(abstract):
    key = name(path)
    shape = tuple(getattr(saved.get(key), "shape", ()) or ()) if key in saved else None
    if shape != tuple(leaf.shape):
      found = "no such array" if shape is None else f"shape {shape}"
      raise ValueError(f"the checkpoint in {str(directory)!r} does not fit this run: {key} has "
                       f"{found} there, {tuple(leaf.shape)} here; use a new --workdir")

