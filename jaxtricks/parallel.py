"""Data parallelism: per-device steps mapped over a leading device axis, and per-example randomness
that does not depend on how the global batch is split over devices and hosts.

A step is written for one device; its collectives use the axis name :data:`AXIS`. :func:`parallelize`
runs it under ``jax.pmap`` over the local devices, or under ``jax.jit`` of a ``vmap`` over one device,
so both paths execute the same code. Host ``p`` holds the contiguous slice ``p`` of every global batch
and device ``d`` of the ``pmap`` (numbered over all hosts) the slice ``d`` of that, so the global
position of an example is ``d·b + i`` (``b`` examples per device): :func:`example_positions`.
Every per-example random draw is keyed by that position (:func:`example_keys`), and batch-level
operations see the global batch (:func:`mirror_shard`, :func:`gather_batch`), so a step gives the same
result on 1, 2 or 8 devices up to float reordering.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

AXIS = "batch"
PARALLEL = ("pmap", "jit")


def check_parallel(parallel: str) -> None:
  if parallel not in PARALLEL:
    raise ValueError(f"parallel must be one of {PARALLEL}, got {parallel!r}")


def device_count(parallel: str) -> int:
  """Local devices a step runs on: all of them under ``pmap``, one under ``jit``."""
  check_parallel(parallel)
  return jax.local_device_count() if parallel == "pmap" else 1


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


def place_state(state: Any, parallel: str, num_devices: int | None = None) -> Any:
  """Puts ``state`` where :func:`parallelize`'s outputs live (replicated over the first
  ``num_devices`` local devices for pmap), so that the first and later steps share one compilation."""
  check_parallel(parallel)
  if parallel == "pmap":
    devices = jax.local_devices()[:num_devices or jax.local_device_count()]
    mesh = Mesh(np.array(devices), (AXIS,), axis_types=(AxisType.Auto,))
    return jax.device_put(state, NamedSharding(mesh, PartitionSpec()))
  return jax.device_put(state, jax.local_devices()[0])


def parallelize(step: Callable, parallel: str, *, out_axes: Any = None,
                donate_state: bool = False) -> Callable:
  """Maps a per-device ``step(state, batch)`` over the leading device axis of ``batch``.

  The state goes in unreplicated (``in_axes=None``). ``out_axes=None`` returns outputs unreplicated
  (they must agree across devices, as after ``lax.pmean``/``psum``); ``0`` (or a pytree prefix with
  zeros) stacks them over devices. ``donate_state`` lets the jit path reuse the state's buffers for the
  new state (the caller must not use the old one again).
  """
  check_parallel(parallel)
  kwargs = dict(in_axes=(None, 0), out_axes=out_axes, axis_name=AXIS)
  if parallel == "pmap":
    return jax.pmap(step, **kwargs)
  return jax.jit(jax.vmap(step, **kwargs), donate_argnums=(0,) if donate_state else ())
