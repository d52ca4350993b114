"""Knowledge distillation: Hinton KD (per-example and GluonCV's combined form) and Relational KD.

Teacher inputs are always put under ``stop_gradient``: a teacher never receives a gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax import lax

PDIST_EPS = 1e-12


def kd_loss(student_logits: jax.Array, teacher_logits: jax.Array, *,
            temperature: float) -> jax.Array:
  """Per-example ``T² · KL(softmax(t/T) ‖ softmax(s/T))`` (Hinton et al., 2015).

  Its batch mean is the true batch-mean KL (RepDistiller's ``DistillKL``), not the ``B·C`` element
  mean of ``nn.KLDivLoss()`` that many PyTorch ports use (C times smaller).

  Args:
    student_logits: ``[..., C]``.
    teacher_logits: ``[..., C]`` (no gradient flows to them).
    temperature: ``T > 0``; the ``T²`` factor keeps the gradient scale independent of ``T``.

  Returns:
    ``[...]`` per-example losses.

  Example::

    loss = kd_loss(student(x), teacher(x), temperature=4.0).mean()
  """
  if temperature <= 0:
    raise ValueError(f"temperature must be > 0, got {temperature}")
  teacher_prob = jax.nn.softmax(lax.stop_gradient(teacher_logits) / temperature)
  log_student = jax.nn.log_softmax(student_logits / temperature)
  return temperature ** 2 * optax.losses.kl_divergence(log_student, teacher_prob)


def distillation_cross_entropy(student_logits: jax.Array, teacher_logits: jax.Array,
                               hard_targets: jax.Array, *, temperature: float = 20.0,
                               hard_weight: float = 0.5) -> jax.Array:
  """GluonCV's KD loss (Bag of Tricks, He et al., CVPR 2019), per example:

  ``(1 − h)·T²·CE(softmax(t/T), s/T) + h·CE(ỹ, s)``.

  The soft term is a cross-entropy (the teacher's entropy included): same gradient as ``T²·KL``, a
  larger value. ``hard_targets`` are integer labels ``[...]`` or dense targets ``[..., C]`` (smoothed
  or mixed labels, as the recipe makes them); with mixup the teacher must see the mixed images.
  """
  if temperature <= 0:
    raise ValueError(f"temperature must be > 0, got {temperature}")
  if not 0.0 <= hard_weight <= 1.0:
    raise ValueError(f"hard_weight must be in [0, 1], got {hard_weight}")
  if hard_targets.ndim == student_logits.ndim - 1:
    hard_targets = jax.nn.one_hot(jnp.asarray(hard_targets).astype(jnp.int32), student_logits.shape[-1])
  teacher_prob = jax.nn.softmax(lax.stop_gradient(teacher_logits) / temperature)
  soft = optax.softmax_cross_entropy(student_logits / temperature, teacher_prob)
  hard = optax.softmax_cross_entropy(student_logits, hard_targets)
  return (1.0 - hard_weight) * temperature ** 2 * soft + hard_weight * hard


def _safe_sqrt(x: jax.Array) -> jax.Array:
  """``sqrt`` with a zero (not NaN) gradient at 0."""
  positive = x > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def _gram(embeddings: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Gram matrix of the mean-centred rows and its diagonal. Distances and angles are translation
  invariant; centring removes the common offset that would otherwise cost precision in
  ``|e_i|² + |e_j|² − 2 e_i·e_j``."""
  e = embeddings - jnp.mean(embeddings, axis=0, keepdims=True)
  gram = jnp.matmul(e, e.T, precision=lax.Precision.HIGHEST)
  return gram, jnp.diagonal(gram)


def pairwise_distances(embeddings: jax.Array, *, eps: float = PDIST_EPS) -> jax.Array:
  """``d_ij = sqrt(max(|e_i − e_j|², eps))`` for ``i ≠ j`` and ``d_ii = 0`` (RKD's ``pdist``).

  As in the official code the clamp comes before the diagonal is zeroed, so identical rows
  ``i ≠ j`` are ``sqrt(eps) = 1e-6`` apart.
  """
  gram, sq = _gram(embeddings)
  squared = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, eps)
  return jnp.sqrt(squared) * (1.0 - jnp.eye(embeddings.shape[0], dtype=embeddings.dtype))


def _mean_normalised_distances(embeddings: jax.Array) -> jax.Array:
  d = pairwise_distances(embeddings)
  positive = d > 0
  return d / (jnp.sum(jnp.where(positive, d, 0.0)) / jnp.sum(positive))


def rkd_distance_loss(student: jax.Array, teacher: jax.Array) -> jax.Array:
  """RKD-D: ``mean_{i,j} smooth_l1(d^S_ij / μ^S, d^T_ij / μ^T)`` (Park et al., CVPR 2019, eq. 4–5).

  ``d`` are :func:`pairwise_distances`, ``μ`` the mean of the positive ones; the mean runs over all
  ``B²`` pairs including the zero diagonal, as in the official ``RkdDistance``.

  Args:
    student: ``[B, Ds]`` student embeddings.
    teacher: ``[B, Dt]`` teacher embeddings (no gradient).

  Returns:
    A scalar (a batch-level loss).
  """
  t = _mean_normalised_distances(lax.stop_gradient(teacher))
  s = _mean_normalised_distances(student)
  return jnp.mean(optax.losses.huber_loss(s, t, delta=1.0))


def _angles_at(anchors: jax.Array, gram: jax.Array, sq: jax.Array, rounding: jax.Array,
               cross: jax.Array) -> jax.Array:
  """``cos ∠(e_j − e_i, e_k − e_i)`` for ``i`` in ``anchors``, ``[len(anchors), B, B]``.

  Numerator ``G_jk − G_ij − G_ik + G_ii``; lengths ``|e_j − e_i| = sqrt(G_jj − 2 G_ij + G_ii)``.
  A difference vector whose squared length is at the rounding level of the Gram entries counts as
  zero, as in the official ``F.normalize(x) = x / max(|x|, 1e-12)``: the cosine is 0, and for
  duplicates ``j ≠ i`` its gradient is the official one, ``∂/∂(e_j − e_i) = n_ik / 1e-12``, carried
  by ``cross = E·stop_gradient(E)ᵀ`` so that it reaches rows ``i`` and ``j`` only.
  """
  g_i = gram[anchors]  # [c, B]: G_ij
  g_ii = sq[anchors]
  sq_len = sq[None, :] - 2.0 * g_i + g_ii[:, None]  # |e_j − e_i|², [c, B]
  zero = sq_len <= rounding[anchors][:, None]
  length = jnp.maximum(_safe_sqrt(jnp.where(zero, 0.0, sq_len)), PDIST_EPS)
  numerator = gram[None] - g_i[:, :, None] - g_i[:, None, :] + g_ii[:, None, None]
  cosine = numerator / (length[:, :, None] * length[:, None, :])
  # Duplicates j ≠ i: <e_j − e_i, stop_gradient(n_ik)> / eps, with value 0.
  duplicate = zero & (jnp.arange(sq.shape[0])[None, :] != anchors[:, None])
  pulled = (cross[None] - cross[:, anchors].T[:, :, None] - cross[anchors][:, None, :]
            + cross[anchors, anchors][:, None, None])  # <e_j − e_i, sg(e_k − e_i)>
  pulled = pulled / (PDIST_EPS * lax.stop_gradient(length)[:, None, :])
  pulled = pulled - lax.stop_gradient(pulled)
  only_j = duplicate[:, :, None] & ~zero[:, None, :]
  only_k = ~zero[:, :, None] & duplicate[:, None, :]
  cosine = jnp.where(zero[:, :, None] | zero[:, None, :], 0.0, cosine)
  return (cosine + jnp.where(only_j, pulled, 0.0)
          + jnp.where(only_k, jnp.swapaxes(pulled, 1, 2), 0.0))


def rkd_angle_loss(student: jax.Array, teacher: jax.Array, *, chunk_size: int = 16) -> jax.Array:
  """RKD-A: ``mean_{i,j,k} smooth_l1(cos∠^S_ijk, cos∠^T_ijk)``, the angle at ``e_i`` between ``e_j``
  and ``e_k`` (Park et al., CVPR 2019, eq. 6–7).

  Computed from the Gram matrix ``G = E Eᵀ`` — ``cos∠_ijk = (G_jk − G_ij − G_ik + G_ii) /
  (|e_j − e_i|·|e_k − e_i|)`` — ``chunk_size`` anchors at a time under ``jax.checkpoint``: O(B²D + B³)
  work and O(chunk_size·B²) memory, forward and backward. The official code materialises the
  ``B × B × D`` difference tensor and the ``B³`` angle tensor; the values are the same.

  Args:
    student: ``[B, Ds]`` student embeddings.
    teacher: ``[B, Dt]`` teacher embeddings (no gradient).
    chunk_size: anchors per chunk (memory ``≈ 4·chunk_size·B²`` floats).

  Returns:
    A scalar (a batch-level loss).
  """
  if student.shape[0] != teacher.shape[0]:
    raise ValueError(f"student and teacher must have the same batch size, got {student.shape[0]} "
                     f"and {teacher.shape[0]}")
  if chunk_size < 1:
    raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
  batch = student.shape[0]
  chunk_size = min(chunk_size, batch)
  num_chunks = -(-batch // chunk_size)
  padded = jnp.arange(num_chunks * chunk_size).reshape(num_chunks, chunk_size)
  valid = padded < batch
  anchors = jnp.minimum(padded, batch - 1)

  def prepare(e):
    gram, sq = _gram(e)
    # Squared lengths below this are cancellation noise of G_jj − 2 G_ij + G_ii.
    rounding = 8.0 * jnp.finfo(e.dtype).eps * (sq + jnp.max(sq))
    cross = jnp.matmul(e, lax.stop_gradient(e).T, precision=lax.Precision.HIGHEST)
    return gram, sq, rounding, cross

  s_parts = prepare(student)
  t_parts = prepare(lax.stop_gradient(teacher))

  @jax.checkpoint
  def chunk_loss(anchor_ids, keep):
    s = _angles_at(anchor_ids, *s_parts)
    t = _angles_at(anchor_ids, *t_parts)
    per_anchor = jnp.sum(optax.losses.huber_loss(s, t, delta=1.0), axis=(1, 2))
    return jnp.sum(jnp.where(keep, per_anchor, 0.0))

  total = jnp.sum(lax.map(lambda a: chunk_loss(*a), (anchors, valid)))
  return total / batch ** 3


def rkd_loss(student: jax.Array, teacher: jax.Array, *, distance_weight: float = 1.0,
             angle_weight: float = 2.0, chunk_size: int = 16) -> jax.Array:
  """``distance_weight · RKD-D + angle_weight · RKD-A`` (official examples: 1 and 2; some ports 25, 50)."""
  return (distance_weight * rkd_distance_loss(student, teacher)
          + angle_weight * rkd_angle_loss(student, teacher, chunk_size=chunk_size))
