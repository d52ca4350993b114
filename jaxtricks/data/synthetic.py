"""The synthetic two-task regression data of MMoE (Ma et al., KDD 2018, §4.1) with a controlled task
relatedness ρ, generated as the keras-mmoe demo (``synthetic_demo.data_preparation``) does.

With orthonormal ``u1, u2 ∈ R^d`` (``u1`` standardised to zero mean and unit norm, ``u2`` made
orthogonal to it), ``w1 = c·u1`` and ``w2 = c·(ρ·u1 + √(1−ρ²)·u2)``; shared ``α, β ~ N(0, 1)^m``; rows
``x ~ N(0, I_d)`` and labels ``y_k = w_k·x + Σ_i sin(α_i·w_k·x + β_i) + N(0, 0.1²)``. ρ is the cosine
of ``w1`` and ``w2``, not the labels' correlation (that also depends on α and β).

The draws replay NumPy's legacy ``RandomState(seed)`` in the demo's order (``u1``, ``u2``, ``α``, ``β``,
then per row ``x``, ``noise0``, ``noise1``), so a seed gives bitwise the demo's rows.
"""

from __future__ import annotations

import numpy as np

from jaxtricks.data.datasets import ArrayDataset


def mmoe_synthetic(seed: int, rho: float, *, num_rows: int = 12000, dim: int = 100, c: float = 0.3,
                   m: int = 5, noise_std: float = 0.1) -> dict[str, np.ndarray]:
  """``X [num_rows, dim]`` and ``y [num_rows, 2]`` (float64) with the hidden ``u1``, ``u2``, ``w1``,
  ``w2``, ``alpha``, ``beta`` and the label ``noise [num_rows, 2]``."""
  if not -1.0 <= rho <= 1.0:
    raise ValueError(f"rho must be in [-1, 1], got {rho}")
  rng = np.random.RandomState(seed)
  u1 = rng.normal(size=dim)
  u1 = (u1 - u1.mean()) / (u1.std() * np.sqrt(dim))
  u2 = rng.normal(size=dim)
  u2 -= u2.dot(u1) * u1
  u2 /= np.linalg.norm(u2)
  w1, w2 = c * u1, c * (rho * u1 + np.sqrt(1.0 - rho**2) * u2)
  alpha, beta = rng.normal(size=m), rng.normal(size=m)
  rows = rng.normal(size=(num_rows, dim + 2))  # The demo's per-row draws: x, then the two noises.
  x, noise = rows[:, :dim], noise_std * rows[:, dim:]
  signal = x @ np.stack([w1, w2], axis=1)  # [rows, 2]
  y = signal + np.sin(alpha * signal[..., None] + beta).sum(-1) + noise
  return {"X": x, "y": y, "u1": u1, "u2": u2, "w1": w1, "w2": w2, "alpha": alpha, "beta": beta,
          "noise": noise}


def mmoe_datasets(seed: int, rho: float, *, num_train: int = 10000, num_test: int = 1000,
                  binary: bool = False) -> tuple[ArrayDataset, ArrayDataset]:
  """The demo's split (rows ``[0, num_train)`` train, the last ``num_test`` rows test; the 1,000
  validation rows between them unused) as float32 ``images`` ``[N, 100]`` with ``extras["targets"]
  [N, 2]``; ``binary`` turns each target into 0/1: above the training rows' median of that target
  (balanced binary-classification tasks).
  ``labels`` are all 0 (one class): the targets are the supervision."""
  data = mmoe_synthetic(seed, rho, num_rows=num_train + 1000 + num_test)
  targets = data["y"]
  if binary:
    targets = targets > np.median(targets[:num_train], axis=0)

  def split(rows: slice) -> ArrayDataset:
    x = data["X"][rows].astype(np.float32)
    return ArrayDataset(x, np.zeros(len(x), np.int32), 1,
                        {"targets": targets[rows].astype(np.float32)})

  return split(slice(0, num_train)), split(slice(num_train + 1000, None))
