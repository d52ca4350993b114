"""Core-Set selection by k-center greedy (Sener & Savarese, ICLR 2018), for million-point pools."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def _squared_distances(x, sq_x, c):
  sq_c = jnp.sum(c * c, axis=-1)
  return jnp.maximum(sq_x[:, None] - 2.0 * jnp.matmul(x, c.T, precision=lax.Precision.HIGHEST)
                     + sq_c[None, :], 0.0)


MEMORY_BUDGET = 2 ** 26  # Floats (256 MiB) for one chunk of the N × centres distance matrix.


@functools.partial(jax.jit, static_argnames=("chunk_size",))
def min_squared_distances(points: jax.Array, centres: jax.Array,
                          chunk_size: int | None = None) -> jax.Array:
  """``min_c |x − c|²`` for every point, ``[N]``: ``chunk_size`` centres at a time (default: as many
  as fit ``MEMORY_BUDGET`` floats), so memory stays ``O(N · chunk_size)``, never ``N × |centres|``.
  ``+inf`` when there are no centres."""
  sq = jnp.sum(points * points, axis=-1)
  n_centres = centres.shape[0]
  if n_centres == 0:
    return jnp.full(points.shape[:1], jnp.inf, points.dtype)
  size = min(chunk_size or max(1, MEMORY_BUDGET // points.shape[0]), n_centres)
  pad = -n_centres % size
  chunks = jnp.pad(centres, ((0, pad), (0, 0))).reshape(-1, size, centres.shape[1])
  valid = (jnp.arange(n_centres + pad) < n_centres).reshape(chunks.shape[:2])

  def step(best, args):
    c, ok = args
    d = jnp.where(ok[None, :], _squared_distances(points, sq, c), jnp.inf)
    return jnp.minimum(best, jnp.min(d, axis=1)), None

  return lax.scan(step, jnp.full(points.shape[:1], jnp.inf, points.dtype), (chunks, valid))[0]


@functools.partial(jax.jit, static_argnames=("budget",))
def _greedy(points, min_dist, budget):
  sq = jnp.sum(points * points, axis=-1)

  def pick(i, carry):
    min_dist, picks = carry
    best = jnp.argmax(min_dist)  # First index on ties.
    d = jnp.maximum(sq - 2.0 * (points @ points[best]) + sq[best], 0.0)
    min_dist = jnp.minimum(min_dist, d).at[best].set(-1.0)
    return min_dist, picks.at[i].set(best)

  return lax.fori_loop(0, budget, pick, (min_dist, jnp.zeros(budget, jnp.int32)))[1]


def kcenter_greedy(embeddings, labelled_mask, budget: int, *,
                   chunk_size: int | None = None) -> jax.Array:
  """``budget`` pool indices chosen by k-center greedy, in greedy order.

  The labelled points are the initial centres; each step picks the unlabelled point farthest from
  its nearest centre (``argmax`` of the running min-distance vector, first index on ties) and makes
  it a centre: ``O(U·D)`` work and memory per pick. With no labelled point every distance is
  ``+inf``, so the first pick is the first unlabelled index (as in the ALFA-Mix repo and
  google/active-learning, whose "random first centre" branch is unreachable).
  """
  embeddings = jnp.asarray(embeddings, jnp.float32)
  labelled_mask = np.asarray(labelled_mask, bool)
  unlabelled = int((~labelled_mask).sum())
  if not 0 < budget <= unlabelled:
    raise ValueError(f"budget must be in [1, {unlabelled}] (the unlabelled count), got {budget}")
  centres = embeddings[np.flatnonzero(labelled_mask)]
  min_dist = min_squared_distances(embeddings, centres, chunk_size=chunk_size)
  min_dist = jnp.where(jnp.asarray(labelled_mask), -1.0, min_dist)
  return _greedy(embeddings, min_dist, budget)
