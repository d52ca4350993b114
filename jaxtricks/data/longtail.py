"""Long-tailed class profiles and subsampling (Cui et al., CVPR 2019; Cao et al., NeurIPS 2019)."""

from __future__ import annotations

import numpy as np

PROFILES = ("exponential", "step", "power")
CONVENTIONS = ("cb", "m2m")


def longtail_counts(n_max: int, num_classes: int, imbalance_factor: float, *,
                    profile: str = "exponential", convention: str = "cb",
                    minority_fraction: float = 0.5) -> np.ndarray:
  """Per-class sample counts, class 0 the largest, ``IF = n_max / n_min``.

  ``exponential``: ``n_i = int(n_max · IF^(−i/(C−1)))``. The official Class-Balanced code evaluates it as
  ``n_max · (1/IF)^(i/(C−1))`` (``convention='cb'``); M2m as ``n_max · μ^i`` with ``μ = (1/IF)^(1/(C−1))``
  (``convention='m2m'``); the rounding of the two differs by one on some classes.
  ``step``: the first ``(1 − minority_fraction)·C`` classes keep ``n_max``, the rest get ``int(n_max / IF)``.
  ``power``: a Pareto (Zipf) tail ``n_i = int(n_max · (i + 1)^(−log IF / log C))``. ImageNet-LT (Liu et
  al., CVPR 2019) draws 1,280 to 5 images per class from a Pareto distribution; with ``n_max = 1280``,
  ``IF = 256`` this profile has its end points, not its list of class sizes.
  """
  if imbalance_factor < 1:
    raise ValueError(f"imbalance_factor must be >= 1, got {imbalance_factor}")
  if num_classes < 2:
    raise ValueError(f"num_classes must be >= 2, got {num_classes}")
  if profile not in PROFILES:
    raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
  if convention not in CONVENTIONS:
    raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
  i = np.arange(num_classes)
  if profile == "step":
    if not 0.0 < minority_fraction < 1.0:
      raise ValueError(f"minority_fraction must be in (0, 1), got {minority_fraction}")
    n_major = num_classes - int(round(minority_fraction * num_classes))
    return np.where(i < n_major, n_max, int(n_max / imbalance_factor)).astype(np.int64)
  if profile == "power":
    return (n_max * (i + 1.0) ** (-np.log(imbalance_factor) / np.log(num_classes))).astype(np.int64)
  if convention == "cb":
    counts = [int(n_max * (1.0 / imbalance_factor) ** (k / (num_classes - 1.0))) for k in i]
  else:
    mu = np.power(1.0 / imbalance_factor, 1.0 / (num_classes - 1))  # np.power, as M2m: rounding.
    counts = [int(n_max * np.power(mu, k)) for k in i]
  return np.asarray(counts, np.int64)


def longtail_indices(labels: np.ndarray, counts: np.ndarray, *, seed: int) -> np.ndarray:
  """Indices of a subset with ``counts[c]`` examples of class ``c``, drawn without replacement."""
  labels = np.asarray(labels)
  available = np.bincount(labels, minlength=len(counts))
  if len(available) != len(counts):
    raise ValueError(f"counts has {len(counts)} classes but labels go up to {len(available) - 1}")
  if np.any(counts > available):
    bad = int(np.argmax(counts > available))
    raise ValueError(f"class {bad} needs {counts[bad]} examples but only {available[bad]} exist")
  rng = np.random.default_rng(seed)
  keep = [rng.permutation(np.flatnonzero(labels == c))[:n] for c, n in enumerate(counts)]
  return np.sort(np.concatenate(keep))
