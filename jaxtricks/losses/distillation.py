"""Knowledge distillation: Hinton KD (per-example and GluonCV's combined form) and Relational KD.

Teacher inputs are always put under ``stop_gradient``: a teacher never receives a gradient.
"""

from __future__ import annotations

import functools

import chex
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
  chex.assert_equal_shape([student_logits, teacher_logits],
                          custom_message="student_logits and teacher_logits must have one shape")
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
  chex.assert_equal_shape([student_logits, teacher_logits],
                          custom_message="student_logits and teacher_logits must have one shape")
  if hard_targets.ndim == student_logits.ndim - 1:
    hard_targets = jax.nn.one_hot(jnp.asarray(hard_targets).astype(jnp.int32), student_logits.shape[-1])
  teacher_prob = jax.nn.softmax(lax.stop_gradient(teacher_logits) / temperature)
  soft = optax.softmax_cross_entropy(student_logits / temperature, teacher_prob)
  hard = optax.softmax_cross_entropy(student_logits, hard_targets)
  return (1.0 - hard_weight) * temperature ** 2 * soft + hard_weight * hard


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


def _geometry(e: jax.Array):
  """Centred rows, Gram matrix ``G``, ``G_ii``, inverse pair distances ``R_ij = 1/|e_i − e_j|`` and the
  pairs whose difference counts as zero.

  Centring is free (angles are translation invariant) and saves precision in
  ``|e_i − e_j|² = G_ii + G_jj − 2 G_ij``. A squared distance at the rounding level of the Gram
  entries counts as zero, as a zero vector does in the official ``F.normalize(x) = x / max(|x|,
  1e-12)``: its unit vector, so every cosine involving it, is 0 (``R_ij = 0``).
  """
  e = e - jnp.mean(e, axis=0, keepdims=True)
  gram = jnp.matmul(e, e.T, precision=lax.Precision.HIGHEST)
  sq = jnp.diagonal(gram)
  sq_dist = sq[:, None] + sq[None, :] - 2.0 * gram
  zero = sq_dist <= 8.0 * jnp.finfo(e.dtype).eps * (sq[:, None] + sq[None, :] + jnp.max(sq))
  inv = jnp.where(zero, 0.0, 1.0 / jnp.maximum(jnp.sqrt(jnp.where(zero, 1.0, sq_dist)), PDIST_EPS))
  return e, gram, sq, inv, zero


def _cosines(rows: jax.Array, gram: jax.Array, sq: jax.Array, inv: jax.Array) -> jax.Array:
  """``C[a, k, i] = cos∠(e_j − e_i, e_k − e_i)`` for ``j = rows[a]``, shape ``[len(rows), B, B]``:
  ``(G_jk − G_ji − G_ki + G_ii)·R_ji·R_ki``. The anchor ``i`` is the last (contiguous) axis."""
  g_rows = gram[rows]
  numerator = g_rows[:, :, None] - g_rows[:, None, :] - gram[None] + sq[None, None, :]
  return numerator * inv[rows][:, None, :] * inv[None]


def _angle_setup(student: jax.Array, teacher: jax.Array, chunk_size: int):
  if student.shape[0] != teacher.shape[0]:
    raise ValueError(f"student and teacher must have the same batch size, got {student.shape[0]} "
                     f"and {teacher.shape[0]}")
  if chunk_size < 1:
    raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
  batch = student.shape[0]
  chunk_size = min(chunk_size, batch)
  padded = jnp.arange(-(-batch // chunk_size) * chunk_size).reshape(-1, chunk_size)
  return (batch, jnp.minimum(padded, batch - 1), padded < batch, _geometry(student),
          _geometry(teacher))


def _angle_loss_value(student, teacher, chunk_size):
  batch, rows, valid, (_, *s_geo, _), (_, *t_geo, _) = _angle_setup(student, teacher, chunk_size)

  def chunk(args):
    ids, keep = args
    diff = _cosines(ids, *s_geo) - _cosines(ids, *t_geo)
    return jnp.sum(jnp.where(keep[:, None, None], optax.losses.huber_loss(diff, delta=1.0), 0.0))

  return jnp.sum(lax.map(chunk, (rows, valid))) / float(batch) ** 3


def _angle_loss_and_grad(student, teacher, chunk_size):
  """The loss and its exact gradient w.r.t. the student, in one pass over chunks of rows ``j``.

  With ``H = clip(C^S − C^T, −1, 1)`` (smooth-L1') at anchor i and ``d_j = e_j − e_i``,
  ``∂L/∂d_j = 2 Σ_k H_jk ρ_ij R_ik d_k − 2 R_ij² (Σ_k H_jk C_jk) d_j`` (times ``1/B³``), where
  ``ρ_ij = R_ij``, or ``1e12`` for a duplicate pair ``i ≠ j`` (the official ``F.normalize`` gradient
  at a zero vector, which reaches rows i and j only). Summed over anchors this needs four ``B × B``
  coefficient matrices, turned into the ``B × D`` gradient by matrix products: no ``B³`` or ``B²D``
  tensor is kept.
  """
  batch, rows, valid, (e, gram, sq, inv, zero), (_, *t_geo, _) = _angle_setup(student, teacher,
                                                                              chunk_size)
  rho = jnp.where(zero, jnp.where(jnp.eye(batch, dtype=bool), 0.0, 1.0 / PDIST_EPS), inv)

  def chunk(args):
    ids, keep = args
    cos_s = _cosines(ids, gram, sq, inv)
    diff = cos_s - _cosines(ids, *t_geo)
    keep3 = keep[:, None, None]
    loss = jnp.sum(jnp.where(keep3, optax.losses.huber_loss(diff, delta=1.0), 0.0))
    h = jnp.where(keep3, jnp.clip(diff, -1.0, 1.0), 0.0)  # h[a, k, i] = H_i[j, k]
    # Sums over k as matrix-vector products: XLA:CPU runs them much faster than reductions of
    # broadcast products.
    h_inv, h_rho, h_cos = h * inv[None], h * rho[None], h * cos_s
    rho_j, inv_j = rho[ids], inv[ids]  # [c, B_i]
    ones = jnp.ones(h.shape[:2], h.dtype)
    q = 2.0 * jnp.einsum("aki,ai->ak", h_inv, rho_j)  # Σ_i P_i[j, k]
    row = 2.0 * rho_j * jnp.einsum("aki,ak->ai", h_inv, ones)  # Σ_k P_i[j, k], indexed [j, i]
    col = 2.0 * inv_j * jnp.einsum("aki,ak->ai", h_rho, ones)  # Σ_k P_i[k, j] (H_i is symmetric)
    a = 2.0 * inv_j ** 2 * jnp.einsum("aki,ak->ai", h_cos, ones)  # Coefficient of −d_j, [j, i]
    return loss, q, row, col, a

  losses, q, row, col, a = lax.map(chunk, (rows, valid))
  q, row, col, a = (x.reshape(-1, batch)[:batch] for x in (q, row, col, a))
  mm = functools.partial(jnp.matmul, precision=lax.Precision.HIGHEST)
  # To e_j as d_j: Σ_i [Σ_k P_i[j, k] e_k − (Σ_k P_i[j, k]) e_i − a_ij (e_j − e_i)].
  grad = mm(q, e) - mm(row, e) - jnp.sum(a, 1)[:, None] * e + mm(a, e)
  # To e_i as −Σ_j d_j: −Σ_k (Σ_j P_i[j, k]) e_k + (Σ_jk P_i) e_i + Σ_j a_ij e_j − (Σ_j a_ij) e_i.
  grad += -mm(col.T, e) + jnp.sum(row, 0)[:, None] * e + mm(a.T, e) - jnp.sum(a, 0)[:, None] * e
  return jnp.sum(losses) / float(batch) ** 3, grad / float(batch) ** 3


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _angle_loss(student, teacher, chunk_size):
  return _angle_loss_value(student, teacher, chunk_size)


def _angle_loss_fwd(student, teacher, chunk_size):
  loss, grad = _angle_loss_and_grad(student, teacher, chunk_size)
  return loss, (grad, teacher)  # Training always wants the gradient: computed with the loss.


def _angle_loss_bwd(chunk_size, residuals, g):
  grad, teacher = residuals
  return g * grad, jnp.zeros_like(teacher)  # The teacher never gets a gradient.


_angle_loss.defvjp(_angle_loss_fwd, _angle_loss_bwd)


def rkd_angle_loss(student: jax.Array, teacher: jax.Array, *, chunk_size: int = 8) -> jax.Array:
  """RKD-A: ``mean_{i,j,k} smooth_l1(cos∠^S_ijk, cos∠^T_ijk)``, the angle at ``e_i`` between ``e_j``
  and ``e_k`` (Park et al., CVPR 2019, eq. 6–7).

  Computed from the Gram matrix ``G = E Eᵀ`` — ``cos∠_ijk = (G_jk − G_ij − G_ik + G_ii) /
  (|e_j − e_i|·|e_k − e_i|)`` — ``chunk_size`` rows at a time, with a hand-written gradient
  computed in the same pass: O(B²D + B³) work and O(chunk_size·B²) memory. The official code
  materialises the ``B × B × D`` difference tensor and the ``B³`` angle tensor; the values and
  gradients (including the ``1e12``-scaled ones at duplicate embeddings) are the same.

  Args:
    student: ``[B, Ds]`` student embeddings.
    teacher: ``[B, Dt]`` teacher embeddings (no gradient).
    chunk_size: rows per chunk (memory ``≈ 6·chunk_size·B²`` floats).

  Returns:
    A scalar (a batch-level loss).
  """
  return _angle_loss(student, lax.stop_gradient(teacher), chunk_size)


def rkd_loss(student: jax.Array, teacher: jax.Array, *, distance_weight: float = 1.0,
             angle_weight: float = 2.0, chunk_size: int = 8) -> jax.Array:
  """``distance_weight · RKD-D + angle_weight · RKD-A`` (official examples: 1 and 2; some ports 25, 50)."""
  return (distance_weight * rkd_distance_loss(student, teacher)
          + angle_weight * rkd_angle_loss(student, teacher, chunk_size=chunk_size))
