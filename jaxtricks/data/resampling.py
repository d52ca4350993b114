"""Re-sampling for class imbalance: class-balanced over-sampling, random under-sampling and SMOTE.

SMOTE follows imbalanced-learn (Chawla et al., JAIR 2002): for every class but the majority, draw
``n_max − n_c`` new points ``x + u·(x_nn − x)`` with ``x`` uniform over the class, ``x_nn`` uniform over
its ``k`` nearest neighbours within the class and ``u ~ U[0, 1)``. The neighbour search is a jitted,
chunked distance computation that never builds more than ``chunk × n_c`` distances at once.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


def oversample_indices(labels: ArrayLike, *, seed: int) -> np.ndarray:
  """Indices giving every class as many examples as the largest one: all of its own examples, topped up
  by draws with replacement. Shuffled."""
  labels = np.asarray(labels)
  counts = np.bincount(labels)
  rng = np.random.default_rng(seed)
  parts = []
  for c in np.flatnonzero(counts):
    members = np.flatnonzero(labels == c)
    parts += [members, rng.choice(members, counts.max() - len(members), replace=True)]
  return rng.permutation(np.concatenate(parts))


def undersample_indices(labels: ArrayLike, *, seed: int) -> np.ndarray:
  """Indices keeping ``min_c n_c`` examples of every present class, drawn without replacement. Sorted."""
  labels = np.asarray(labels)
  counts = np.bincount(labels)
  n_min = counts[counts > 0].min()
  rng = np.random.default_rng(seed)
  keep = [rng.choice(np.flatnonzero(labels == c), n_min, replace=False) for c in np.flatnonzero(counts)]
  return np.sort(np.concatenate(keep))


@functools.partial(jax.jit, static_argnames=("k", "chunk"))
def _knn(points: jax.Array, k: int, chunk: int) -> jax.Array:
  n = points.shape[0]
  sq = jnp.sum(points * points, axis=-1)
  pad = (-n) % chunk
  queries = jnp.arange(n + pad).reshape(-1, chunk)

  def one_chunk(rows):
    q = points[jnp.minimum(rows, n - 1)]
    d = sq[jnp.minimum(rows, n - 1), None] - 2.0 * q @ points.T + sq[None, :]
    d = jnp.where(rows[:, None] == jnp.arange(n)[None, :], jnp.inf, d)  # Not its own neighbour.
    return jax.lax.top_k(-d, k)[1]

  return jax.lax.map(one_chunk, queries).reshape(-1, k)[:n]


def nearest_neighbors(points: ArrayLike, k: int, *, max_chunk_elements: int = 1 << 24) -> np.ndarray:
  """``[n, k]`` indices of each point's ``k`` nearest other points (Euclidean), nearest first.

  Queries run in chunks of ``max_chunk_elements // n`` rows, so memory stays O(chunk·n + n·D).
  """
  points = jnp.asarray(points, jnp.float32)
  n = points.shape[0]
  if not 1 <= k < n:
    raise ValueError(f"k_neighbors={k} needs at least k+1={k + 1} points in the class, got {n}")
  chunk = int(max(1, min(n, max_chunk_elements // n)))
  return np.asarray(_knn(points, k, chunk))


def smote_interpolate(base: ArrayLike, neighbor: ArrayLike, step: ArrayLike) -> jax.Array:
  """``base + step·(neighbor − base)`` row by row: the deterministic part of SMOTE."""
  base, neighbor = jnp.asarray(base), jnp.asarray(neighbor)
  step = jnp.asarray(step, base.dtype).reshape((-1,) + (1,) * (base.ndim - 1))
  return base + step * (neighbor - base)


def smote(features: ArrayLike, labels: ArrayLike, *, seed: int, k_neighbors: int = 5,
          max_chunk_elements: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
  """Over-samples every non-majority class up to the majority count with SMOTE (imbalanced-learn rule).

  A class with ``n_c ≤ k`` examples uses ``k = n_c − 1`` neighbours (imbalanced-learn raises instead);
  a single-example class can only be repeated.

  Args:
    features: ``[N, D]`` (or ``[N, ...]``, flattened for the neighbour search) features or inputs.
    labels: ``[N]`` integer labels.
    seed: seed of the draws.
    k_neighbors: neighbours per point within its class (imbalanced-learn default 5).

  Returns:
    ``(features, labels)``: the originals, then the synthetic points class by class.
  """
  features = np.asarray(features)
  labels = np.asarray(labels)
  counts = np.bincount(labels)
  n_max = counts.max()
  rng = np.random.default_rng(seed)
  new_x, new_y = [features], [labels]
  for c in np.flatnonzero((counts > 0) & (counts < n_max)):
    members = features[labels == c]
    k = min(k_neighbors, len(members) - 1)
    n_new = n_max - counts[c]
    base = rng.integers(0, len(members), n_new)
    if k == 0:
      neighbor = base
    else:
      knn = nearest_neighbors(members.reshape(len(members), -1), k, max_chunk_elements=max_chunk_elements)
      neighbor = knn[base, rng.integers(0, k, n_new)]
    step = rng.uniform(size=n_new)
    new_x.append(np.asarray(smote_interpolate(members[base], members[neighbor], step), features.dtype))
    new_y.append(np.full(n_new, c, labels.dtype))
  return np.concatenate(new_x), np.concatenate(new_y)
