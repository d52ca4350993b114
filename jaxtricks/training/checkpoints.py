"""Checkpoints of any state pytree (orbax), for one process or many.

Orbax saves and restores global arrays: on the mesh path the state is one already (replicated over
every device of every process), so it is saved as is and restored into the shardings of the current run,
whatever topology wrote it (8 devices → 1, 2 hosts → 1, pmap → mesh). A multi-process ``pmap`` run's
host-local copies go through :meth:`DataParallel.to_global`. Saves are asynchronous and atomic: orbax
writes into a temporary directory and renames it when complete, so a run killed during a save resumes
from the last complete checkpoint (the temporary directory is deleted).
"""

from __future__ import annotations

from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxtricks.parallel import DataParallel
from jaxtricks.paths import absolute


class Checkpoints:
  """The checkpoints in ``directory``: ``save(step, state)``, ``restore(like)``, ``latest_step()``."""

  def __init__(self, directory, *, max_to_keep: int, parallel: DataParallel):
    self.parallel = parallel
    self.manager = ocp.CheckpointManager(
        absolute(directory), item_handlers=ocp.StandardCheckpointHandler(),
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                             cleanup_tmp_directories=True))
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

