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


def best_map_accuracy(clusters, labels, num_clusters: int, num_classes: int) -> float:
  """Accuracy of ``clusters`` (e.g. InfoGAN's categorical code) as predictions of ``labels`` under the
  one-to-one map of clusters to classes that maximises it (Hungarian algorithm,
  ``scipy.optimize.linear_sum_assignment``); unmatched clusters count as errors."""
  from scipy.optimize import linear_sum_assignment

  clusters, labels = np.asarray(clusters), np.asarray(labels)
  if clusters.shape != labels.shape or not clusters.size:
    raise ValueError(f"clusters and labels must have one equal, non-empty shape, got "
                     f"{clusters.shape} and {labels.shape}")
  counts = np.zeros((num_clusters, num_classes), np.int64)
  np.add.at(counts, (clusters, labels), 1)
  rows, cols = linear_sum_assignment(counts, maximize=True)
  return float(counts[rows, cols].sum() / clusters.size)
