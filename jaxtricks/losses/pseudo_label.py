"""Pseudo-labels: Lee's pseudo-label loss (ICML-W 2013) and the Noisy Student loss (Xie et al., CVPR
2020, as google-research/noisystudent's ``main.py`` computes it).

Targets come from logits under ``stop_gradient``; argmax ties go to the smallest class index.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import optax
from jax import lax


def hard_pseudo_labels(logits: jax.Array) -> jax.Array:
  """``[B]`` argmax of ``[B, C]`` logits (ties: the smallest index)."""
  return jnp.argmax(logits, axis=-1).astype(jnp.int32)


def soft_pseudo_labels(logits: jax.Array, temperature: float = 1.0) -> jax.Array:
  """``softmax(logits / T)`` (Noisy Student's online teacher)."""
  if temperature <= 0:
    raise ValueError(f"temperature must be > 0 for soft pseudo-labels, got {temperature}")
  return jax.nn.softmax(logits / temperature, axis=-1)


def sharpen(probabilities: jax.Array, temperature: float) -> jax.Array:
  """``p^(1/T) / Σ p^(1/T)``: the soft target from stored probabilities (Noisy Student offline);
  equal to :func:`soft_pseudo_labels` of the logits up to rounding."""
  if temperature <= 0:
    raise ValueError(f"temperature must be > 0, got {temperature}")
  logp = jnp.log(probabilities) / temperature
  return jax.nn.softmax(logp, axis=-1)


def confidence_mask(logits: jax.Array, threshold: float) -> jax.Array:
  """``max softmax >= threshold`` (``>=`` as ``filter_unlabel.py`` compares)."""
  return jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1) >= threshold


def alpha_ramp(t, *, t1: float = 100.0, t2: float = 600.0, alpha_f: float = 3.0) -> jax.Array:
  """Lee's weight of the unlabelled term: 0 before ``t1``, linear to ``alpha_f`` at ``t2``, then
  constant; ``t`` may be traced (epochs in the paper)."""
  if not t2 > t1:
    raise ValueError(f"alpha ramp needs t2 > t1, got t1={t1}, t2={t2}")
  return alpha_f * jnp.clip((jnp.asarray(t, jnp.float32) - t1) / (t2 - t1), 0.0, 1.0)


def pseudo_label_loss(labelled_logits: jax.Array, labels: jax.Array, unlabelled_logits: jax.Array, *,
                      alpha, threshold: float = 0.0) -> tuple[jax.Array, dict[str, jax.Array]]:
  """``mean CE(f(x), y) + α(t) · mean CE(f(x'), argmax f(x'))`` (Lee, 2013): the network's own hard
  labels of the unlabelled batch, recomputed every step, under ``stop_gradient``. With
  ``threshold > 0`` only examples whose confidence is ``>= threshold`` count (the mean is still over
  the whole unlabelled batch, so α keeps its meaning). Returns ``(loss, metrics)``."""
  chex.assert_equal_shape_suffix([labelled_logits, unlabelled_logits], 1,
                                 custom_message="labelled and unlabelled logits need one class axis")
  chex.assert_shape(labels, labelled_logits.shape[:1], custom_message="labels must be [B_labelled]")
  target_logits = lax.stop_gradient(unlabelled_logits)
  pseudo = hard_pseudo_labels(target_logits)
  mask = confidence_mask(target_logits, threshold).astype(unlabelled_logits.dtype)
  lab = optax.softmax_cross_entropy_with_integer_labels(labelled_logits, labels).mean()
  unl = (optax.softmax_cross_entropy_with_integer_labels(unlabelled_logits, pseudo) * mask).mean()
  return lab + alpha * unl, {"labelled_loss": lab, "unlabelled_loss": unl, "mask_rate": mask.mean()}


def smoothed_one_hot(labels: jax.Array, num_classes: int, label_smoothing: float) -> jax.Array:
  """``one_hot·(1 − ε) + ε/C`` (TF's ``softmax_cross_entropy(label_smoothing=ε)``)."""
  return optax.smooth_labels(jax.nn.one_hot(labels, num_classes), label_smoothing)


def noisy_student_loss(student_labelled: jax.Array, labels: jax.Array, student_unlabelled: jax.Array,
                       teacher_unlabelled: jax.Array, *, unlabel_ratio: float, temperature: float = 1.0,
                       label_smoothing: float = 0.1) -> tuple[jax.Array, dict[str, jax.Array]]:
  """``lab_loss + ratio · unl_loss`` (``main.py`` with ``label_data_sample_prob = 1``).

  ``lab_loss``: mean CE against smoothed labels. ``unl_loss``: with ``temperature > 0`` (the released
  scripts use 1) mean ``Σ_c −softmax(t/T)_c log softmax(s)_c``, unsmoothed; with ``temperature <= 0``
  (``teacher_softmax_temp = −1``) CE against the smoothed one-hot argmax of the teacher. The
  unlabelled term scales with the ratio; it is not a mean over the joint batch. Weight decay is the
  optimizer's. Returns ``(loss, metrics)``.
  """
  chex.assert_equal_shape([student_unlabelled, teacher_unlabelled],
                          custom_message="teacher_unlabelled must have student_unlabelled's shape")
  chex.assert_shape(labels, student_labelled.shape[:1], custom_message="labels must be [B_labelled]")
  c = student_labelled.shape[-1]
  teacher = lax.stop_gradient(teacher_unlabelled)
  lab = optax.softmax_cross_entropy(student_labelled, smoothed_one_hot(labels, c, label_smoothing)).mean()
  if temperature > 0:
    target = soft_pseudo_labels(teacher, temperature)
  else:
    target = smoothed_one_hot(hard_pseudo_labels(teacher), c, label_smoothing)
  unl = optax.softmax_cross_entropy(student_unlabelled, target).mean()
  return lab + unlabel_ratio * unl, {"labelled_loss": lab, "unlabelled_loss": unl}
