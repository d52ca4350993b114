"""Retrieval metrics for metric learning."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxtricks.losses.metric_learning import squared_distances


@functools.partial(jax.jit, static_argnames=("max_k", "chunk_size"))
def _nearest_labels(embeddings, labels, max_k, chunk_size):
  n = embeddings.shape[0]
  pad = -n % chunk_size
  queries = jnp.pad(jnp.arange(n), (0, pad)).reshape(-1, chunk_size)

  def chunk(ids):
    dist = squared_distances(embeddings[ids], embeddings)
    dist = dist.at[jnp.arange(chunk_size), ids].set(jnp.inf)  # A query is not its own neighbour.
    _, neighbours = jax.lax.top_k(-dist, max_k)
    return labels[neighbours]

  return jax.lax.map(chunk, queries).reshape(-1, max_k)[:n]


def recall_at_k(embeddings, labels, ks=(1, 2, 4, 8), *, chunk_size: int = 256) -> dict[int, float]:
  """Recall@K: the fraction of queries with a same-class example among their K nearest neighbours
  (squared Euclidean distance; every example is a query, the rest of the set the database; the
  query itself is excluded), as in the RKD code's ``recall()`` (Park et al., CVPR 2019).

  Memory ``O(chunk_size · N)``: queries are processed ``chunk_size`` at a time.
  """
  embeddings, labels = jnp.asarray(embeddings), jnp.asarray(labels)
  ks = tuple(int(k) for k in ks)
  if min(ks) < 1 or max(ks) >= embeddings.shape[0]:
    raise ValueError(f"ks must be in [1, N-1] = [1, {embeddings.shape[0] - 1}], got {ks}")
  chunk_size = min(chunk_size, embeddings.shape[0])
  nearest = np.asarray(_nearest_labels(embeddings, labels, max(ks), chunk_size))
  hit = nearest == np.asarray(labels)[:, None]
  return {k: float(np.mean(np.any(hit[:, :k], axis=1))) for k in ks}
