"""Classification metrics from per-class counts, mergeable across batches and devices by summation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def per_class_counts(logits: jax.Array, labels: jax.Array, num_classes: int,
                     where: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """``(correct[C], total[C])``: argmax hits and examples per true class; rows with ``where=False`` skipped.

  Sum the counts over batches (and ``lax.psum`` over devices) before :func:`balanced_accuracy`.
  """
  where = jnp.ones(labels.shape, bool) if where is None else where
  onehot = jax.nn.one_hot(labels, num_classes, dtype=jnp.int32) * where[:, None]
  hit = (jnp.argmax(logits, axis=-1) == labels)[:, None]
  return jnp.sum(onehot * hit, axis=0), jnp.sum(onehot, axis=0)


def per_class_recall(correct, total) -> np.ndarray:
  """``correct_c / total_c``; NaN for classes with no examples."""
  correct, total = np.asarray(correct, np.float64), np.asarray(total, np.float64)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(total > 0, correct / total, np.nan)


def balanced_accuracy(correct, total) -> float:
  """Mean per-class recall over the classes present (equals scikit-learn's ``balanced_accuracy_score``)."""
  recall = per_class_recall(correct, total)
  if np.all(np.isnan(recall)):
    raise ValueError("balanced_accuracy needs at least one example (total is all zero)")
  return float(np.nanmean(recall))
