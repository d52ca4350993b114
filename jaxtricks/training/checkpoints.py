"""Checkpoints of any state pytree (orbax), for one process or many.

Orbax saves and restores global arrays: on the mesh path the state is one already (replicated over
every device of every process), so it is saved as is and restored into the shardings of the current run,
whatever topology wrote it (8 devices → 1, 2 hosts → 1, pmap → mesh). A multi-process ``pmap`` run's
host-local copies go through :meth:`DataParallel.to_global`. Saves are asynchronous and atomic: orbax
writes into a temporary directory and renames it when complete, so a run killed during a save resumes
from the last complete checkpoint (the temporary directory is deleted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxtricks.parallel import DataParallel


class Checkpoints:
  """The checkpoints in ``directory``: ``save(step, state)``, ``restore(like)``, ``latest_step()``."""

  def __init__(self, directory: Path, *, max_to_keep: int, parallel: DataParallel):
    self.parallel = parallel
    self.manager = ocp.CheckpointManager(
        Path(directory).absolute(),
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
    restored = self.manager.restore(self.latest_step(), args=ocp.args.StandardRestore(abstract))
    return self.parallel.from_global(restored)

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
