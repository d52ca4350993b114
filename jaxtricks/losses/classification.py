"""Class-imbalance losses: effective-number class weights, class-balanced softmax / sigmoid / focal losses
(Cui et al., CVPR 2019) and the softmax focal loss (Lin et al., ICCV 2017).

Losses follow optax: per-example values ``[B]``, no reduction; the batch mean is the loss to minimise.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

LOSS_TYPES = ("softmax", "sigmoid", "focal")


def effective_number_weights(samples_per_class: ArrayLike, beta: float) -> np.ndarray:
  """Class weights ``w_c ∝ (1 − β) / (1 − β^{n_c})``, the inverse effective number, normalised to sum to C.

  Cui et al., "Class-Balanced Loss Based on Effective Number of Samples", CVPR 2019, eq. (4) and §4.
  ``β = 0`` gives all ones; ``β → 1`` approaches inverse class frequency. Computed once, in float64, from
  the whole training set's counts (per-batch counts give empty classes).

  >>> effective_number_weights([500, 50], beta=0.99).round(4)
  array([0.569, 1.431])
  """
  counts = np.asarray(samples_per_class, np.float64)
  if counts.ndim != 1 or counts.size < 1:
    raise ValueError(f"samples_per_class must be a 1-D list of class counts, got shape {counts.shape}")
  if np.any(counts <= 0):
    raise ValueError(f"samples_per_class must be > 0 for every class (an empty class has no weight), "
                     f"got {counts.astype(int).tolist()}")
  if not 0.0 <= beta < 1.0:
    raise ValueError(f"beta must be in [0, 1), got {beta}")
  weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
  return weights / weights.sum() * counts.size


def _check(logits: ArrayLike, labels: ArrayLike) -> tuple[jax.Array, jax.Array]:
  logits, labels = jnp.asarray(logits), jnp.asarray(labels)
  if not jnp.issubdtype(logits.dtype, jnp.floating):
    raise TypeError(f"logits must be floating point, got {logits.dtype}")
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise TypeError(f"labels must be integer class indices, got {labels.dtype}")
  if labels.shape != logits.shape[:-1]:
    raise ValueError(f"labels shape {labels.shape} must be logits shape {logits.shape} without the "
                     "class axis")
  return logits, labels


def sigmoid_focal_terms(logits: ArrayLike, targets: ArrayLike, *, gamma: float) -> jax.Array:
  """Elementwise one-vs-all focal loss ``(1 − p_t)^γ · BCE(x, y)``, stable for any logit.

  With ``ℓ(z) = exp(γ · log σ(−z)) · (−log σ(z))`` the term is ``y·ℓ(x) + (1 − y)·ℓ(−x)``: for ``y ∈ {0, 1}``
  exactly the official CB code's log-space form, kept finite — value and gradient — where ``exp(−x)``
  overflows (``optax.sigmoid_focal_loss`` computes ``(1 − p_t)^γ`` directly, whose gradient is NaN at
  ``p_t = 1`` for ``γ < 1``); soft targets (label smoothing, mixup) interpolate linearly.
  ``γ = 0`` is plain sigmoid cross-entropy.
  """
  logits = jnp.asarray(logits)
  def term(z):
    bce = -jax.nn.log_sigmoid(z)
    return bce if gamma == 0 else jnp.exp(gamma * jax.nn.log_sigmoid(-z)) * bce
  return targets * term(logits) + (1.0 - targets) * term(-logits)


def class_balanced_loss(logits: ArrayLike, labels: ArrayLike, samples_per_class: ArrayLike, *,
                        beta: float, loss_type: str = "softmax", gamma: float = 0.0) -> jax.Array:
  """Per-example class-balanced loss ``w_{y_i} · L(x_i, y_i)`` with :func:`effective_number_weights`.

  ``L`` follows the official TensorFlow code (Cui et al., CVPR 2019, ``src/cifar_main.py``), so the
  batch mean equals its reduction:

  * ``softmax``: softmax cross-entropy (official mean divides by B, not by ``Σ w``);
  * ``sigmoid``: one-vs-all binary cross-entropy summed over the C classes;
  * ``focal``: one-vs-all focal loss with ``γ = gamma`` summed over the C classes
    (:func:`sigmoid_focal_terms`).

  The popular PyTorch port differs: its "softmax" is a binary cross-entropy on softmax probabilities and
  its sigmoid loss averages over B·C (= official / C); we follow the official code.

  Args:
    logits: ``[B, C]`` floating logits.
    labels: ``[B]`` integer labels in ``[0, C)``.
    samples_per_class: ``[C]`` training-set counts.
    beta: effective-number hyper-parameter in ``[0, 1)``; 0 gives the unweighted loss.
    loss_type: one of ``softmax``, ``sigmoid``, ``focal``.
    gamma: focusing parameter of ``focal``.

  Returns:
    ``[B]`` per-example losses.
  """
  logits, labels = _check(logits, labels)
  if loss_type not in LOSS_TYPES:
    raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
  num_classes = logits.shape[-1]
  if len(np.asarray(samples_per_class)) != num_classes:
    raise ValueError(f"samples_per_class has {len(np.asarray(samples_per_class))} entries but logits "
                     f"have {num_classes} classes")
  weights = jnp.asarray(effective_number_weights(samples_per_class, beta), logits.dtype)[labels]
  if loss_type == "softmax":
    return weights * optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  onehot = jax.nn.one_hot(labels, num_classes, dtype=logits.dtype)
  terms = sigmoid_focal_terms(logits, onehot, gamma=gamma if loss_type == "focal" else 0.0)
  return weights * terms.sum(axis=-1)


def softmax_focal_loss(logits: ArrayLike, labels: ArrayLike, *, gamma: float = 2.0,
                       alpha: ArrayLike | None = None) -> jax.Array:
  """Multi-class focal loss ``−α_{y} · (1 − p_y)^γ · log p_y`` with ``p = softmax(x)``.

  Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, applied to the softmax probability of
  the true class. ``alpha`` is an optional ``[C]`` per-class weight (e.g. :func:`effective_number_weights`).

  >>> float(softmax_focal_loss(jnp.array([[2.0, 0.0]]), jnp.array([0]), gamma=0.0)[0])  # = CE
  0.12692804634571075
  """
  logits, labels = _check(logits, labels)
  loss = soft_target_loss(logits, jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype),
                          loss_type="softmax_focal", gamma=gamma)
  if alpha is not None:
    loss = jnp.asarray(alpha, logits.dtype)[labels] * loss
  return loss


SOFT_TARGET_LOSSES = ("softmax", "sigmoid", "focal", "softmax_focal")


def soft_target_loss(logits: ArrayLike, targets: ArrayLike, *, loss_type: str = "softmax",
                     gamma: float = 0.0) -> jax.Array:
  """Per-example loss against dense targets ``[B, C]`` (one-hot, smoothed or mixed).

  * ``softmax``: ``−Σ_c t_c log p_c`` (``optax.softmax_cross_entropy``);
  * ``sigmoid`` / ``focal``: one-vs-all (focal) binary cross-entropy summed over classes
    (:func:`sigmoid_focal_terms`, ``γ`` ignored for ``sigmoid``);
  * ``softmax_focal``: ``−Σ_c t_c (1 − p_c)^γ log p_c``, with ``1 − p_c = −expm1(log p_c)`` floored at
    1e-30 so value and gradient stay finite when ``p_c`` rounds to 1.
  """
  logits, targets = jnp.asarray(logits), jnp.asarray(targets, jnp.asarray(logits).dtype)
  chex.assert_equal_shape([logits, targets], custom_message="targets must be dense, logits' shape [B, C]")
  if loss_type == "softmax":
    return optax.softmax_cross_entropy(logits, targets)
  if loss_type in ("sigmoid", "focal"):
    return sigmoid_focal_terms(logits, targets, gamma=gamma if loss_type == "focal" else 0.0).sum(-1)
  if loss_type == "softmax_focal":
    log_p = jax.nn.log_softmax(logits)
    if gamma == 0:
      return -(targets * log_p).sum(-1)
    modulator = jnp.exp(gamma * jnp.log(jnp.maximum(-jnp.expm1(log_p), 1e-30)))
    return -(targets * modulator * log_p).sum(-1)
  raise ValueError(f"loss_type must be one of {SOFT_TARGET_LOSSES}, got {loss_type!r}")


def logit_adjusted_logits(logits: ArrayLike, samples_per_class: ArrayLike, *, tau: float = 1.0) -> jax.Array:
  """``logits + τ·log π`` with ``π_c = n_c / Σ n`` the training class prior: the softmax cross-entropy
  of these is the logit-adjusted loss (Menon et al., "Long-tail learning via logit adjustment",
  ICLR 2021); ``τ = 1`` is the Balanced Softmax (Ren et al., NeurIPS 2020). Train on the adjusted
  logits, predict with the plain ones: the adjustment moves the boundary towards the frequent classes
  during training, so the plain logits estimate the balanced (class-uniform) posterior."""
  logits = jnp.asarray(logits)
  counts = np.asarray(samples_per_class, np.float64)
  chex.assert_shape(counts, (logits.shape[-1],),
                    custom_message="samples_per_class must have one count per class (logits [B, C])")
  if np.any(counts <= 0):
    raise ValueError(f"samples_per_class must be positive, got {counts.tolist()}")
  return logits + jnp.asarray(tau * np.log(counts / counts.sum()), logits.dtype)


def ldam_loss(logits: ArrayLike, labels: ArrayLike, samples_per_class: ArrayLike, *,
              max_margin: float = 0.5, scale: float = 30.0,
              class_weights: ArrayLike | None = None) -> jax.Array:
  """Label-distribution-aware margin loss ``w_y · CE(s·(x − m_y·e_y), y)``, ``m_c ∝ n_c^{−1/4}``.

  Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss", NeurIPS 2019
  (as in their code and M2m's): margins scaled so the largest is ``max_margin``; ``logits`` are
  cosine similarities of a normalised classifier; ``class_weights`` (e.g. deferred CB weights, DRW).
  """
  logits, labels = _check(logits, labels)
  margins = np.power(np.asarray(samples_per_class, np.float64), -0.25)
  margins = jnp.asarray(margins * (max_margin / margins.max()), logits.dtype)
  onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
  loss = optax.softmax_cross_entropy_with_integer_labels(scale * (logits - onehot * margins[labels, None]),
                                                         labels)
  if class_weights is not None:
    loss = jnp.asarray(class_weights, logits.dtype)[labels] * loss
  return loss


def weighted_focal_loss(logits: ArrayLike, labels: ArrayLike, *, gamma: float,
                        class_weights: ArrayLike | None = None) -> jax.Array:
  """The focal loss of the LDAM-DRW and M2m code: ``(1 − e^{−ℓ})^γ · ℓ`` with ``ℓ = w_y · CE(x, y)``.

  With class weights, ``e^{−ℓ}`` is not the true-class probability (``p_y^{w_y}``); kept as the
  official baselines compute it. Without weights it is :func:`softmax_focal_loss`.
  """
  logits, labels = _check(logits, labels)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  if class_weights is not None:
    ce = jnp.asarray(class_weights, logits.dtype)[labels] * ce
  return jnp.exp(gamma * jnp.log(jnp.maximum(-jnp.expm1(-ce), 1e-30))) * ce if gamma else ce


def auxiliary_classifier_loss(logits: ArrayLike, aux_logits, labels: ArrayLike, *,
                              aux_weight: float = 0.3) -> jax.Array:
  """Per-example ``CE(main) + w·Σ_k CE(aux_k)``: GoogLeNet's training loss with its auxiliary
  classifiers (Szegedy et al., CVPR 2015: w = 0.3; the heads are dropped at inference)."""
  logits, labels = _check(logits, labels)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  for aux in aux_logits:
    chex.assert_equal_shape([logits, aux], custom_message="aux_logits must have the logits' shape")
    loss = loss + aux_weight * optax.softmax_cross_entropy_with_integer_labels(aux, labels)
  return loss
