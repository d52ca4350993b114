"""BADGE (Ash et al., ICLR 2020): k-means++ seeding in the space of last-layer gradient embeddings."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax


def _pseudo_label_residual(logits: jax.Array) -> jax.Array:
  """``q = onehot(ŷ) − p`` with ``ŷ = argmax p``: the last-layer gradient is ``−q ⊗ e``."""
  probs = jax.nn.softmax(logits)
  return jax.nn.one_hot(jnp.argmax(logits, -1), logits.shape[-1], dtype=probs.dtype) - probs


def gradient_embedding(logits: jax.Array, embeddings: jax.Array) -> jax.Array:
  """``[U, C·D]`` gradient embeddings: block ``c`` is ``e·(1[c = ŷ] − p_c)`` (the ALFA-Mix repo's
  ``get_grad_embedding``). Materialises ``C·D`` numbers per point: for inspection and small pools;
  :func:`badge` never builds it."""
  q = _pseudo_label_residual(logits)
  return (q[:, :, None] * embeddings[:, None, :]).reshape(embeddings.shape[0], -1)


@functools.partial(jax.jit, static_argnames=("budget",))
def badge(rng: jax.Array, logits: jax.Array, embeddings: jax.Array, unlabelled: jax.Array,
          budget: int) -> jax.Array:
  """``budget`` indices by k-means++ seeding on gradient embeddings ``g = q ⊗ e``.

  The first centre is the largest ``|g|``; each next one is drawn with probability ``∝ D(g)²``, the
  squared distance to the nearest chosen centre. Distances use
  ``|g_u − g_v|² = |e_u|²|q_u|² + |e_v|²|q_v|² − 2 (e_u·e_v)(q_u·q_v)``: ``O(U·(C + D))`` per pick, no
  ``U × C·D`` tensor.
  """
  q = _pseudo_label_residual(logits)
  e = embeddings.astype(jnp.float32)
  norms = jnp.sum(e * e, -1) * jnp.sum(q * q, -1)  # |g|²

  def distance_to(i):
    cross = (e @ e[i]) * (q @ q[i])
    return jnp.maximum(norms + norms[i] - 2.0 * cross, 0.0)

  first = jnp.argmax(jnp.where(unlabelled, norms, -1.0))
  min_dist = jnp.where(unlabelled, distance_to(first), 0.0).at[first].set(0.0)

  def pick(i, carry):
    min_dist, picks, key = carry
    key, sub = jax.random.split(key)
    available = min_dist > 0
    logp = jnp.where(available, jnp.log(jnp.where(available, min_dist, 1.0)), -jnp.inf)
    # If every remaining distance is 0 (duplicates), fall back to the first unpicked point.
    fallback = jnp.argmax(unlabelled & (min_dist >= 0) & ~jnp.isin(jnp.arange(e.shape[0]), picks))
    nxt = jnp.where(jnp.any(available), jax.random.categorical(sub, logp), fallback)
    min_dist = jnp.minimum(min_dist, distance_to(nxt)).at[nxt].set(0.0)
    min_dist = jnp.where(unlabelled, min_dist, 0.0)
    return min_dist, picks.at[i].set(nxt), key

  picks = jnp.full(budget, -1, jnp.int32).at[0].set(first)
  return lax.fori_loop(1, budget, pick, (min_dist, picks, rng))[1]
