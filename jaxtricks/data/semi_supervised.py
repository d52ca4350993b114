"""Semi-supervised data on the host: a stratified labelled/unlabelled split of a training set, and
Noisy Student's filtering and class balancing of teacher pseudo-labels (``filter_unlabel.py`` of
google-research/noisystudent)."""

from __future__ import annotations

import dataclasses

import numpy as np

THRESHOLD_GRID = 100  # Confidence thresholds k/100.


def labelled_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """``(labelled, unlabelled)`` sorted indices: ``round(fraction·N_c)`` (at least 1) random examples
  of every class ``c`` are labelled, the rest unlabelled."""
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f"labelled fraction must be in (0, 1], got {fraction}")
  rng = np.random.default_rng(seed)
  labelled = []
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    labelled.append(rng.choice(members, max(1, round(fraction * len(members))), replace=False))
  labelled = np.sort(np.concatenate(labelled))
  return labelled, np.setdiff1d(np.arange(len(labels)), labelled)


@dataclasses.dataclass(frozen=True)
class Balance:
  threshold: np.ndarray  # [C] float64: each predicted class's confidence threshold.
  total_image: np.ndarray  # [C] samples of the class at or above it.
  eligible: np.ndarray  # [N] bool.
  expected_copies: np.ndarray  # [C] num_image / total_image (capped at 1 without upsampling).
  copies: np.ndarray  # [N] int: this draw's copies of every sample.

  def indices(self) -> np.ndarray:
    """The kept sample indices, each repeated by its copies."""
    return np.repeat(np.arange(len(self.copies)), self.copies)


def balance_pseudo_labels(probabilities: np.ndarray, *, num_image: int, min_threshold: float,
                          rng: np.random.RandomState | np.random.Generator, upsample: bool = True,
                          max_prob: float = 2.0) -> Balance:
  """Per predicted class ``c``: walk ``t = 1.00, 0.99, ...`` down to ``min_threshold`` and take the
  first ``t`` at which at least ``num_image`` samples have confidence ``>= t`` (else
  ``min_threshold``). Every sample at or above it gets ``r = num_image / total`` copies in
  expectation, ``floor(r)`` plus one with probability ``frac(r)`` (``upsample=False`` caps ``r`` at
  1): over-full classes are thinned at random, under-full ones duplicated.

  Draws: one ``rng.random()`` per eligible sample, classes in the order of their first appearance,
  samples by descending confidence (stable), as the official loop visits them.
  """
  probabilities = np.asarray(probabilities)
  if probabilities.ndim != 2:
    raise ValueError(f"probabilities must be [N, C], got shape {probabilities.shape}")
  if num_image < 1:
    raise ValueError(f"num_image must be >= 1, got {num_image}")
  k_min = round(min_threshold * THRESHOLD_GRID)
  if not 0 <= k_min <= THRESHOLD_GRID or abs(k_min - min_threshold * THRESHOLD_GRID) > 1e-9:
    raise ValueError(f"min_threshold must be a multiple of 0.01 in [0, 1], got {min_threshold}")
  num_classes = probabilities.shape[1]
  pred = probabilities.argmax(1)
  conf = probabilities[np.arange(len(pred)), pred]
  threshold = np.full(num_classes, min_threshold, np.float64)
  total = np.zeros(num_classes, np.int64)
  for c in range(num_classes):
    mine = conf[pred == c]
    for k in range(THRESHOLD_GRID, k_min - 1, -1):
      n = int(np.sum(mine >= k / THRESHOLD_GRID))
      threshold[c], total[c] = k / THRESHOLD_GRID, n
      if n >= num_image:
        break
  eligible = (conf >= threshold[pred]) & (conf <= max_prob)
  expected = np.where(total > 0, num_image / np.maximum(total, 1), 0.0)
  if not upsample:
    expected = np.minimum(expected, 1.0)
  draw = rng.random if isinstance(rng, np.random.Generator) else rng.random_sample
  copies = np.zeros(len(pred), np.int32)
  _, first = np.unique(pred, return_index=True)
  for c in pred[np.sort(first)]:
    members = np.nonzero((pred == c) & eligible)[0]
    members = members[np.argsort(-conf[members], kind="stable")]
    r = expected[c]
    for i in members:
      copies[i] = int(r) + (draw() < r - int(r))
  return Balance(threshold, total, eligible, expected, copies)
