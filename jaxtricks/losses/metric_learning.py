"""Metric learning: the batch-hard triplet loss (Hermans et al., 2017) on top of optax's triplet loss."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax


def squared_distances(x: jax.Array, y: jax.Array) -> jax.Array:
  """``|x_i − y_j|²`` for all pairs, ``[N, M]``, clamped at 0."""
  sq = (jnp.sum(x * x, -1)[:, None] + jnp.sum(y * y, -1)[None, :]
        - 2.0 * jnp.matmul(x, y.T, precision=jax.lax.Precision.HIGHEST))
  return jnp.maximum(sq, 0.0)


def batch_hard_triplet_loss(embeddings: jax.Array, labels: jax.Array, *, margin: float = 0.2,
                            where: jax.Array | None = None) -> jax.Array:
  """Per-anchor ``max(0, |a − p| − |a − n| + margin)`` with the batch's hardest positive ``p`` (farthest
  same-label example) and hardest negative ``n`` (closest other-label example).

  Hermans, Beyer, Leibe, "In Defense of the Triplet Loss for Person Re-Identification", 2017;
  the triplet term itself is ``optax.losses.triplet_margin_loss``. Anchors without a positive or a
  negative in the batch get 0 (check ``valid_triplet_anchors`` to count them).

  Args:
    embeddings: ``[B, D]``.
    labels: ``[B]`` integer classes.
    margin: the margin (0.2 in RKD's teacher training, for l2-normalised embeddings).
    where: optional ``[B]`` mask of examples that take part.

  Returns:
    ``[B]`` per-anchor losses.
  """
  chex.assert_rank(embeddings, 2, custom_message="embeddings must be [B, D]")
  chex.assert_shape(labels, (embeddings.shape[0],), custom_message="labels must be [B], one per embedding")
  same = labels[:, None] == labels[None, :]
  present = jnp.ones(labels.shape, bool) if where is None else where
  pair = present[:, None] & present[None, :]
  dist = squared_distances(embeddings, embeddings)
  eye = jnp.eye(labels.shape[0], dtype=bool)
  positive = jnp.argmax(jnp.where(same & ~eye & pair, dist, -1.0), axis=1)
  negative = jnp.argmin(jnp.where(~same & pair, dist, jnp.inf), axis=1)
  loss = optax.losses.triplet_margin_loss(embeddings, embeddings[positive], embeddings[negative],
                                          margin=margin)
  return jnp.where(valid_triplet_anchors(labels, where), loss, 0.0)


def valid_triplet_anchors(labels: jax.Array, where: jax.Array | None = None) -> jax.Array:
  """``[B]`` bool: the anchor has at least one positive and one negative in the batch."""
  present = jnp.ones(labels.shape, bool) if where is None else where
  same = (labels[:, None] == labels[None, :]) & present[None, :]
  eye = jnp.eye(labels.shape[0], dtype=bool)
  has_positive = jnp.any(same & ~eye, axis=1)
  has_negative = jnp.any(~same & present[None, :] & (labels[:, None] != labels[None, :]), axis=1)
  return present & has_positive & has_negative
