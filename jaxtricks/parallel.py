"""Data parallelism: one per-device step, run over a device mesh (``jax.jit`` + ``jax.shard_map``) or
under ``jax.pmap``, and per-example randomness that does not depend on how the global batch is split.

A step is written for one device; its collectives use the axis name :data:`AXIS`.
:class:`DataParallel` runs it either way:

* ``"mesh"`` (the default): a 1-D mesh ``("batch",)`` over every device of every process. The state is
  a global array replicated over the mesh (``P()``) and donated to the step; each host hands its
  contiguous slice ``[b_host, ...]`` of the global batch to ``jax.make_array_from_process_local_data``,
  which shards it ``P("batch")``; the step runs as ``jax.jit(jax.shard_map(step, ...))``. One chip (a
  Colab TPU runtime) is a mesh of one device; a pod is a mesh of all its chips.
* ``"pmap"``: ``jax.pmap`` over each host's local devices; the host batch is reshaped to
  ``[local devices, b, ...]`` at this boundary.

Host ``p`` holds the contiguous slice ``p`` of every global batch and the devices are numbered
process-major, so device ``d`` holds the global rows ``d·b … d·b + b − 1`` (``b`` per device):
:func:`example_positions`. Every per-example random draw is keyed by that position
(:func:`example_keys`), and batch-level operations see the global batch (:func:`mirror_shard`,
:func:`gather_batch`), so a step gives the same result on 1, 2 or 8 devices and on any number of hosts,
up to float reordering.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "batch"
PARALLEL = ("mesh", "pmap")


def example_positions(n: int, axis_name: str | None = AXIS) -> jax.Array:
  """``[n]`` global positions of this device's ``n`` examples: ``axis_index·n + arange(n)``
  (``arange(n)`` when ``axis_name`` is None, i.e. outside a parallel step)."""
  offset = 0 if axis_name is None else lax.axis_index(axis_name) * n
  return offset + jnp.arange(n)


def example_keys(key: jax.Array, n: int, axis_name: str | None = AXIS) -> jax.Array:
  """``[n]`` keys ``fold_in(key, position)``: one per example, the same whatever the device count."""
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(example_positions(n, axis_name))


def mirror_shard(x: jax.Array, axis_name: str = AXIS) -> jax.Array:
  """This device's rows of the *global* batch reversed: row ``i`` of device ``d`` gets global row
  ``B−1−(d·b+i)``, which lives on device ``D−1−d`` (one ``ppermute``)."""
  n = lax.axis_size(axis_name)
  return lax.ppermute(x, axis_name, [(i, n - 1 - i) for i in range(n)])[::-1]


def gather_batch(x: jax.Array, axis_name: str = AXIS) -> jax.Array:
  """The global batch on every device (``all_gather``, differentiable). A batch-level loss computed on
  it on every device, with gradients averaged over devices, has the gradient of the global loss."""
  return lax.all_gather(x, axis_name, tiled=True)


@dataclasses.dataclass(frozen=True)
class DataParallel:
  """Runs per-device steps data-parallel: ``kind`` is ``"mesh"`` or ``"pmap"``; ``local_devices``
  takes the first that many devices of each process (None: all of them).

  ``step(fn)`` returns ``(state, host_batch) -> outputs``: the state as :meth:`replicate` placed it,
  the batch as this host's ``[b_host, ...]`` NumPy arrays; every output must agree across devices (as
  after ``lax.pmean``/``psum``/``all_gather``) and comes back replicated.
  """

  kind: str = "mesh"
  local_devices: int | None = None

  def __post_init__(self):
    if self.kind not in PARALLEL:
      raise ValueError(f"parallel must be one of {PARALLEL}, got {self.kind!r}")
    available = jax.local_device_count()
    if self.local_devices is not None and not 1 <= self.local_devices <= available:
      raise ValueError(f"local_devices must be in [1, {available}] (this process's devices), got "
                       f"{self.local_devices}")
    if self.kind == "pmap" and jax.process_count() > 1 and self.local_devices not in (None, available):
      raise ValueError("a multi-process pmap runs on every local device: leave local_devices unset")

  @functools.cached_property
  def devices(self) -> list:
    """The devices used, process-major: process ``p``'s hold the ``p``-th slice of a global batch."""
    per_process = self.local_devices or jax.local_device_count()
    if self.kind == "pmap":
      return jax.local_devices()[:per_process]
    chosen = [d for p in range(jax.process_count())
              for d in [d for d in jax.devices() if d.process_index == p][:per_process]]
    ordered = jax.make_mesh((len(chosen),), (AXIS,), devices=chosen).devices.ravel()
    return sorted(ordered, key=lambda d: d.process_index)  # Stable: keeps make_mesh's ring per host.

  @functools.cached_property
  def mesh(self) -> Mesh:
    """The mesh the state is replicated over (``pmap``: this process's devices)."""
    return Mesh(np.array(self.devices), (AXIS,))

  @property
  def device_count(self) -> int:
    """Devices a global batch is split over (all processes)."""
    return len(self.devices) * (jax.process_count() if self.kind == "pmap" else 1)

  def check_batch_size(self, batch_size: int, name: str = "batch_size") -> None:
    """A ``ValueError`` unless the global ``batch_size`` splits evenly over the devices."""
    if batch_size <= 0 or batch_size % self.device_count:
      raise ValueError(
          f"{name}={batch_size} must be a positive multiple of the number of devices "
          f"({self.device_count // jax.process_count()} per process × {jax.process_count()} "
          f"processes = {self.device_count})")

  def replicate(self, tree: Any) -> Any:
    """``tree`` replicated where :meth:`step` wants its state (one compilation for every step)."""
    sharding = NamedSharding(self.mesh, P())
    if jax.process_count() == 1 or self.kind == "pmap":
      return jax.device_put(tree, sharding)
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, _host(a)), tree)

  @staticmethod
  def to_host(tree: Any) -> Any:
    """One host copy (NumPy) of a replicated ``tree``, e.g. a state that :meth:`step` returned."""
    return jax.tree.map(_host, tree)

  def shard(self, batch: dict[str, Any]) -> dict[str, jax.Array]:
    """This host's ``[b_host, ...]`` batch as the step's input: global arrays sharded over the mesh
    (``mesh``), or ``[local devices, b, ...]`` arrays (``pmap``). Leaves that are already
    ``jax.Array``s (a batch this method placed before) pass through."""
    host = [v for v in batch.values() if not isinstance(v, jax.Array)]
    if host:
      self.check_batch_size(len(host[0]) * jax.process_count(), "the global batch")
    return {k: v if isinstance(v, jax.Array) else self._shard(v) for k, v in batch.items()}

  def _shard(self, x: np.ndarray) -> jax.Array:
    if self.kind == "pmap":
      x = np.reshape(x, (len(self.devices), -1) + np.shape(x)[1:])
      return jax.device_put(x, NamedSharding(self.mesh, P(AXIS)))
    return jax.make_array_from_process_local_data(NamedSharding(self.mesh, P(AXIS)), np.asarray(x))

  def step(self, fn: Callable, *, donate_state: bool = False) -> Callable:
    """``fn(state, batch)`` written for one device, run over every device (see the class). The
    returned function also has ``lower(state, batch)`` (XLA's cost analysis, ahead-of-time compile)."""
    if self.kind == "pmap":
      mapped, static = jax.pmap(fn, axis_name=AXIS, in_axes=(None, 0), out_axes=None), ()
    else:
      mapped, static = _sharded_donated if donate_state else _sharded, (fn, self.mesh)

    def run(state, batch):
      return mapped(*static, state, self.shard(batch))
    run.lower = lambda state, batch: mapped.lower(*static, state, self.shard(batch))
    return run

  def to_global(self, tree: Any) -> Any:
    """``tree`` as global arrays (what orbax saves in a multi-process run): the state itself on the
    mesh; a ``pmap`` run's host-local copies made one array replicated over every device."""
    if self.kind == "mesh" or jax.process_count() == 1:
      return tree
    sharding = _replicated_everywhere()
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(sharding, _host(a)), tree)

  def from_global(self, tree: Any) -> Any:
    """The inverse of :meth:`to_global` (placed as :meth:`replicate` places)."""
    if self.kind == "mesh" or jax.process_count() == 1:
      return tree
    return self.replicate(jax.tree.map(_host, tree))


def _shard_mapped(fn: Callable, mesh: Mesh, state: Any, batch: Any) -> Any:
  # check_vma=False: the body is a per-device program, as under pmap: its gradients stay per device
  # until its own lax.pmean, and it is responsible for returning values that agree across devices.
  return jax.shard_map(fn, mesh=mesh, in_specs=(P(), P(AXIS)), out_specs=P(), check_vma=False)(
      state, batch)


# One compilation per (step, mesh): every DataParallel over the same devices shares it.
_sharded = jax.jit(_shard_mapped, static_argnums=(0, 1))
_sharded_donated = jax.jit(_shard_mapped, static_argnums=(0, 1), donate_argnums=(2,))


def _replicated_everywhere() -> NamedSharding:
  return NamedSharding(Mesh(np.array(jax.devices()), (AXIS,)), P())


def _host(array: Any) -> np.ndarray:
  """One host copy of a replicated array."""
  return np.asarray(array.addressable_data(0)) if isinstance(array, jax.Array) else np.asarray(array)
