"""Comparing strategies: the pairwise penalty ("win-ratio") matrix of BADGE and ALFA-Mix."""

from __future__ import annotations

import numpy as np

T_CRITICAL_5_SEEDS = 2.776  # Two-sided 95 % t quantile, 4 degrees of freedom.


def penalty_matrix(accuracies, threshold: float | None = None, *, ddof: int = 1) -> np.ndarray:
  """``P[i, j]`` = fraction of rounds in which strategy ``i`` beats ``j`` by a paired t-test over seeds.

  ``accuracies [M, S, R]`` (strategies, seeds, rounds). With ``d = acc_i − acc_j`` per seed,
  ``t = √S · mean(d) / std(d)`` and ``i`` wins a round if ``t > threshold``. ``std`` is the sample
  std (``ddof = 1``, Student's paired t); the official ``get_comp_matrix`` uses the population std
  (``ddof = 0``), which inflates ``t`` by ``√(S/(S−1))`` (×1.22 at 3 seeds): pass ``ddof=0`` to
  reproduce it. The official code hard-wires 2.776 (5 seeds); by default the threshold is the
  two-sided 95 % t quantile for ``S − 1`` degrees of freedom, which is that value for 5 seeds. Column
  sums ``/ (M − 1)`` (how often a strategy is beaten) are the row the papers print under the matrix:
  lower is better.
  """
  if ddof not in (0, 1):
    raise ValueError(f"ddof must be 0 (the official code) or 1 (sample std), got {ddof!r}")
  acc = np.asarray(accuracies, np.float64)
  if acc.ndim != 3 or acc.shape[1] < 2:
    raise ValueError(f"accuracies must be [strategies, seeds >= 2, rounds], got shape {acc.shape}")
  if threshold is None:
    from scipy import stats
    threshold = float(stats.t.ppf(0.975, acc.shape[1] - 1))
  m, s, r = acc.shape
  out = np.zeros((m, m))
  for i in range(m):
    for j in range(m):
      if i == j:
        continue
      d = acc[i] - acc[j]  # [S, R]
      with np.errstate(divide="ignore", invalid="ignore"):
        t = np.sqrt(s) * d.mean(0) / d.std(0, ddof=ddof)
      out[i, j] = np.sum(t > threshold) / r
  return out
