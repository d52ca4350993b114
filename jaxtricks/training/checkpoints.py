"""Checkpoints of any state pytree (orbax), for one process or many.

A multi-process run holds its state as host-local arrays (replicated over each host's devices by
``pmap``); orbax saves only global arrays there, so the state is saved as a global array replicated
over every device, and restored as one. Saves are asynchronous and atomic: orbax writes into a
temporary directory and renames it when complete, so a run killed during a save resumes from the
last complete checkpoint (the temporary directory is deleted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def _replicated() -> NamedSharding:
  return NamedSharding(Mesh(np.array(jax.devices()), ("devices",)), PartitionSpec())


def _host_value(array) -> np.ndarray:
  return np.asarray(array.addressable_data(0)) if isinstance(array, jax.Array) else np.asarray(array)


class Checkpoints:
  """The checkpoints in ``directory``: ``save(step, state)``, ``restore(like)``, ``latest_step()``."""

  def __init__(self, directory: Path, *, max_to_keep: int):
    self.manager = ocp.CheckpointManager(
        Path(directory).absolute(),
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                             cleanup_tmp_directories=True))
    self.directory = self.manager.directory

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: Any) -> None:
    if jax.process_count() > 1:
      sharding = _replicated()
      state = jax.tree.map(
          lambda a: jax.make_array_from_process_local_data(sharding, _host_value(a)), state)
    self.manager.save(step, args=ocp.args.StandardSave(state))

  def restore(self, like: Any) -> Any:
    """The latest checkpoint, shaped like the pytree ``like`` (host arrays in a multi-process run)."""
    if jax.process_count() == 1:
      abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
      return self.manager.restore(self.latest_step(), args=ocp.args.StandardRestore(abstract))
    sharding = _replicated()
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype, sharding=sharding),
                            like)
    restored = self.manager.restore(self.latest_step(), args=ocp.args.StandardRestore(abstract))
    return jax.tree.map(_host_value, restored)

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
