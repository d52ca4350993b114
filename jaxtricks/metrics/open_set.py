"""Open-set recognition metrics (host-side NumPy): AUROC, AUPR, OSCR, and the known/unknown split."""

from __future__ import annotations

import numpy as np

TIES = ("half", "official")


def open_set_auroc(known_scores, unknown_scores, *, ties: str = "half") -> float:
  """``P(s_known > s_unknown)`` over all known/unknown pairs: known examples are the positives.

  ``ties="half"`` counts a tied pair as one half (the Mann–Whitney statistic, equal to
  ``sklearn.metrics.roc_auc_score``); ``"official"`` counts it as mis-ordered, as the ARPL code's
  ``metric_ood`` does (slightly lower with ties).
  """
  if ties not in TIES:
    raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
  known, unknown = np.asarray(known_scores, np.float64), np.sort(np.asarray(unknown_scores, np.float64))
  below = np.searchsorted(unknown, known, side="left")  # unknown < known
  equal = np.searchsorted(unknown, known, side="right") - below
  wins = below.sum() + (0.5 * equal.sum() if ties == "half" else 0.0)
  return float(wins / (len(known) * len(unknown)))


def official_ood_metrics(known_scores, unknown_scores) -> dict[str, float]:
  """The ARPL code's ``metric_ood`` numbers (×100): TNR at 95 % TPR, detection accuracy, AUROC, and
  the trapezoidal AUPR of the known (``auin``) and unknown (``auout``) sides.

  The threshold sweeps upward through the merged scores, a known example passing below an unknown one
  on ties (so a tie counts as mis-ordered); ``tp`` / ``fp`` count the known / unknown examples still
  above it. Prefer :func:`open_set_auroc` and :func:`open_set_aupr` (scikit-learn's conventions); this
  one reproduces published tables.
  """
  known, unknown = np.asarray(known_scores, np.float64), np.asarray(unknown_scores, np.float64)
  nk, nn = len(known), len(unknown)
  scores = np.r_[known, unknown]
  is_unknown = np.r_[np.zeros(nk, bool), np.ones(nn, bool)]
  order = np.lexsort((is_unknown, scores))  # Ascending; on ties known first.
  tp = np.r_[nk, nk - np.cumsum(~is_unknown[order])].astype(np.float64)
  fp = np.r_[nn, nn - np.cumsum(is_unknown[order])].astype(np.float64)
  tpr, fpr = np.r_[1.0, tp / nk, 0.0], np.r_[1.0, fp / nn, 0.0]
  out = {"tnr_at_tpr95": 1.0 - fp[np.abs(tp / nk - 0.95).argmin()] / nn,
         "dtacc": 0.5 * np.max(tp / nk + 1.0 - fp / nn),
         "auroc": -np.trapezoid(1.0 - fpr, tpr)}
  denom = tp + fp
  keep = np.r_[True, denom > 0, True]
  precision_in = np.r_[0.5, tp / np.where(denom > 0, denom, 1.0), 0.0]
  out["auin"] = -np.trapezoid(precision_in[keep], tpr[keep])
  denom = (nk - tp) + (nn - fp)
  keep = np.r_[True, denom > 0, True]
  precision_out = np.r_[0.0, (nn - fp) / np.where(denom > 0, denom, 1.0), 0.5]
  out["auout"] = np.trapezoid(precision_out[keep], 1.0 - fpr[keep])
  return {k: 100.0 * float(v) for k, v in out.items()}


def average_precision(scores, positive) -> float:
  """``Σ_n (R_n − R_{n−1}) P_n`` over the distinct score thresholds, high score = positive
  (``sklearn.metrics.average_precision_score``, ties grouped)."""
  scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
  order = np.argsort(-scores, kind="stable")
  scores, positive = scores[order], positive[order]
  last = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]  # End of each tie group.
  tp = np.cumsum(positive)[last]
  precision = tp / (last + 1)
  recall = tp / max(positive.sum(), 1)
  return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def open_set_aupr(known_scores, unknown_scores) -> dict[str, float]:
  """AUPR with the known examples as positives (``aupr_known``, high score = known) and with the
  unknown ones as positives (``aupr_unknown``, low score = unknown)."""
  known, unknown = np.asarray(known_scores, np.float64), np.asarray(unknown_scores, np.float64)
  scores = np.r_[known, unknown]
  is_known = np.r_[np.ones(len(known), bool), np.zeros(len(unknown), bool)]
  return {"aupr_known": average_precision(scores, is_known),
          "aupr_unknown": average_precision(-scores, ~is_known)}


def oscr(known_logits, unknown_logits, labels) -> float:
  """Open-Set Classification Rate (Dhamija et al., NeurIPS 2018): the area under the curve of the
  correct-classification rate of the known examples against the false-positive rate of the unknown
  ones, as the threshold on the max score moves (the ARPL code's ``compute_oscr``)."""
  known_logits, unknown_logits = np.asarray(known_logits), np.asarray(unknown_logits)
  x1, x2 = known_logits.max(1), unknown_logits.max(1)
  correct = np.r_[known_logits.argmax(1) == np.asarray(labels), np.zeros(len(x2), bool)]
  is_unknown = np.r_[np.zeros(len(x1), bool), np.ones(len(x2), bool)]
  order = np.argsort(np.r_[x1, x2], kind="quicksort")
  correct, is_unknown = correct[order], is_unknown[order]
  n = len(order)
  # Thresholds between sorted positions k and k+1: correct known above, unknown at or above k.
  cc = np.cumsum(correct[::-1])[::-1]  # cc[k] = Σ correct[k:]
  fp = np.cumsum(is_unknown[::-1])[::-1]
  k = np.arange(n - 1)
  ccr = np.r_[cc[k + 1] / len(x1), 0.0, 0.0, 1.0]
  fpr = np.r_[fp[k] / len(x2), 0.0, 0.0, 1.0]
  points = sorted(zip(fpr, ccr), reverse=True)
  return float(sum((a[0] - b[0]) * (a[1] + b[1]) / 2.0 for a, b in zip(points[:-1], points[1:])))


def known_unknown_split(num_classes: int, num_known: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """A random split of the classes into ``num_known`` known and the rest unknown (sorted), e.g. the
  MNIST protocol: 6 known, 4 unknown digits, several seeds."""
  if not 0 < num_known < num_classes:
    raise ValueError(f"num_known must be in [1, {num_classes - 1}], got {num_known}")
  perm = np.random.default_rng(seed).permutation(num_classes)
  return np.sort(perm[:num_known]), np.sort(perm[num_known:])
