"""Reciprocal-point learning for open-set recognition: RPL (Chen et al., ECCV 2020) and ARPL (Chen et
al., TPAMI 2021), with the official code's conventions (iCGY96/ARPL).

A reciprocal point is the *extra-class* point of a class: the larger a feature's distance to the
points of class ``c``, the more it belongs to ``c`` (the distance is the logit).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax

METRICS = ("l2", "dot")


def reciprocal_distances(features: jax.Array, points: jax.Array, *, num_centers: int = 1,
                         metric: str = "l2") -> jax.Array:
  """``[B, C]``: ``|f − P_r|² / D`` (``l2``: squared distance over the feature dimension) or
  ``f·P_r`` (``dot``) to the ``C·K`` points (rows class-major, ``c·K + k``), averaged over each
  class's ``K = num_centers`` points."""
  if metric not in METRICS:
    raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
  chex.assert_rank([features, points], 2, custom_message="features [B, D] and points [C·K, D]")
  chex.assert_equal_shape_suffix([features, points], 1,
                                 custom_message="features and points must share the feature dimension")
  dot = features @ points.T
  if metric == "l2":
    sq = jnp.sum(features ** 2, -1, keepdims=True) - 2.0 * dot + jnp.sum(points ** 2, -1)[None]
    dist = sq / features.shape[-1]
  else:
    dist = dot
  return dist.reshape(features.shape[0], -1, num_centers).mean(-1)


def _check_labels(features, labels):
  chex.assert_shape(labels, (features.shape[0],), custom_message="labels must be [B], one per feature row")
  chex.assert_type(labels, int, custom_message="labels must be integer class indices")


def _own_point_distance(features, points, labels, num_centers, official_indexing):
  """``mean_d (f − P)²`` to the sample's own reciprocal points (averaged over its K points), or, with
  ``official_indexing``, to row ``y`` of the point table (the official RPL code; wrong for K > 1)."""
  if official_indexing or num_centers == 1:
    return jnp.mean((features - points[labels]) ** 2, -1)
  own = points.reshape(-1, num_centers, points.shape[-1])[labels]  # [B, K, D]
  return jnp.mean((features[:, None, :] - own) ** 2, axis=(1, 2))


def rpl_loss(features: jax.Array, labels: jax.Array, points: jax.Array, radius: jax.Array, *,
             num_centers: int = 1, temperature: float = 1.0, weight: float = 0.1,
             official_indexing: bool = False) -> jax.Array:
  """Per-example RPL loss ``CE(d/T, y) + weight·(mean_d (f − P_y)² − R)²`` with ``d`` the
  :func:`reciprocal_distances` and a learnable radius ``R`` (the open-space term, an MSE as coded).

  With ``num_centers > 1`` the paper's ``P_y`` are the class's own K points; the official code indexes
  row ``y`` of the ``[C·K, D]`` table instead (``official_indexing=True`` reproduces it).
  Open-set score: ``max_c softmax(d)_c``.
  """
  dist = reciprocal_distances(features, points, num_centers=num_centers)
  _check_labels(features, labels)
  ce = optax.softmax_cross_entropy_with_integer_labels(dist / temperature, labels)
  own = _own_point_distance(features, points, labels, num_centers, official_indexing)
  return ce + weight * (own - jnp.reshape(radius, ())) ** 2


def arpl_logits(features: jax.Array, points: jax.Array) -> jax.Array:
  """ARPL logits: ``|f − P_c|²/D − f·P_c``."""
  return (reciprocal_distances(features, points, metric="l2")
          - reciprocal_distances(features, points, metric="dot"))


def arpl_loss(features: jax.Array, labels: jax.Array, points: jax.Array, radius: jax.Array, *,
              temperature: float = 1.0, weight: float = 0.1, margin: float = 1.0) -> jax.Array:
  """Per-example ARPL loss ``CE(logits/T, y) + weight·max(0, mean_d (f − P_y)² − R + margin)``.
  Open-set score: ``max_c logits_c`` (raw logits, not probabilities)."""
  _check_labels(features, labels)
  ce = optax.softmax_cross_entropy_with_integer_labels(arpl_logits(features, points) / temperature,
                                                       labels)
  own = jnp.mean((features - points[labels]) ** 2, -1)
  return ce + weight * jnp.maximum(own - jnp.reshape(radius, ()) + margin, 0.0)


def arpl_confusion_loss(features: jax.Array, points: jax.Array) -> jax.Array:
  """``exp(mean_b Σ_c p log p)`` with ``p = softmax(|f − P|²/D)``: low when generated "confusing"
  samples sit equally far from every class (ARPL+CS). A scalar.

  Its gradients are tiny differences of large terms. The official float32 code (``softmax``, then
  ``p·log p``) is itself ~1e-4·max|∇| away from the exact value at D = 128, so this computes the same
  function in a well-conditioned form: ``|f|²/D`` is dropped (softmax is shift-invariant, and it only
  adds cancellation to ∇_f), logits are centred, and ``Σ p log p = Σ p z − logsumexp(z)``.
  """
  chex.assert_rank([features, points], 2, custom_message="features [B, D] and points [C, D]")
  z = (jnp.sum(points ** 2, -1)[None] - 2.0 * features @ points.T) / features.shape[-1]
  z = z - jnp.mean(z, -1, keepdims=True)
  neg_entropy = jnp.sum(jax.nn.softmax(z) * z, -1) - jax.nn.logsumexp(z, -1)
  return jnp.exp(jnp.mean(neg_entropy))


def rpl_open_set_score(features: jax.Array, points: jax.Array, *, num_centers: int = 1) -> jax.Array:
  """``max_c softmax(d)_c`` (higher = known)."""
  return jnp.max(jax.nn.softmax(reciprocal_distances(features, points, num_centers=num_centers)), -1)


def arpl_open_set_score(features: jax.Array, points: jax.Array) -> jax.Array:
  """``max_c`` ARPL logit (higher = known)."""
  return jnp.max(arpl_logits(features, points), -1)


OPEN_SET_LOSSES = ("softmax", "rpl", "arpl")


def open_set_logits(outputs: jax.Array, params, *, loss: str, num_centers: int = 1) -> jax.Array:
  """Class logits of an open-set model: the outputs (``softmax``), the reciprocal distances (``rpl``)
  or the ARPL logits; ``params`` holds ``points`` for the last two."""
  if loss == "softmax":
    return outputs
  if loss == "rpl":
    return reciprocal_distances(outputs, params["points"], num_centers=num_centers)
  if loss == "arpl":
    return arpl_logits(outputs, params["points"])
  raise ValueError(f"open_set.loss must be one of {OPEN_SET_LOSSES}, got {loss!r}")


def open_set_scores(logits: jax.Array, *, loss: str) -> jax.Array:
  """Known-ness score per example (higher = known): max softmax probability (``softmax``, ``rpl``) or
  max raw logit (``arpl``), as in the official evaluation."""
  return jnp.max(logits if loss == "arpl" else jax.nn.softmax(logits), axis=-1)
