"""The statistics every claim of the reproduction tables is judged by, written once.

A claim compares a method with its control on the same seeds (the same split, the same
initialisation where the two share it), so the unit is the per-seed *paired* difference
``d_s = method_s − control_s``. Its 95 % interval is Student's t interval
``mean(d) ± t_{0.975, n−1} · sd(d) / √n`` (sample sd, ddof = 1); from 10 seeds on also a percentile
bootstrap interval of the mean (10,000 resamples).

The verdict rule, for a claim that the method is better (``direction=+1``) or worse (−1):

* **yes**: the t interval excludes 0 on the claimed side;
* **direction only**: the mean difference is on the claimed side but the interval includes 0;
* **no**: otherwise (the mean is 0 or on the other side).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from scipy import stats as scipy_stats

VERDICTS = ("yes", "direction only", "no")
BOOTSTRAP_FROM = 10  # Seeds from which the bootstrap interval is reported too.


@dataclasses.dataclass(frozen=True)
class Paired:
  """The paired differences of a claim: ``n``, ``mean``, the 95 % t interval ``(low, high)``, the
  bootstrap interval (None under :data:`BOOTSTRAP_FROM` seeds) and the verdict."""
  n: int
  mean: float
  sd: float
  interval: tuple[float, float]
  bootstrap: tuple[float, float] | None
  verdict: str

  def describe(self, scale: float = 100.0, digits: int = 1) -> str:
    """E.g. ``+2.1 [+0.8, +3.4]`` (× ``scale``; the t interval)."""
    f = lambda v: f"{scale * v:+.{digits}f}"  # noqa: E731
    return f"{f(self.mean)} [{f(self.interval[0])}, {f(self.interval[1])}]"


def t_interval(differences: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
  """Student's t interval of the mean of ``differences`` (ddof = 1); needs two values or more."""
  d = np.asarray(differences, np.float64)
  if len(d) < 2:
    raise ValueError(f"a paired interval needs at least 2 seeds, got {len(d)}")
  half = scipy_stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
  return float(d.mean() - half), float(d.mean() + half)


def bootstrap_interval(differences: Sequence[float], confidence: float = 0.95, *,
                       resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
  """Percentile bootstrap interval of the mean of ``differences``."""
  d = np.asarray(differences, np.float64)
  means = np.random.default_rng(seed).choice(d, (resamples, len(d))).mean(1)
  return tuple(float(q) for q in np.quantile(means, [0.5 - confidence / 2, 0.5 + confidence / 2]))


def verdict(interval: tuple[float, float], mean: float, direction: int = 1) -> str:
  """The rule of this module's docstring."""
  if direction not in (1, -1):
    raise ValueError(f"direction must be 1 (better) or -1 (worse), got {direction!r}")
  low, high = sorted(direction * v for v in interval)
  if low > 0:
    return "yes"
  return "direction only" if direction * mean > 0 else "no"


def paired(method: dict[int, float], control: dict[int, float], direction: int = 1) -> Paired:
  """The claim "``method`` is better (``direction=1``) / worse (−1) than ``control``" judged on the
  seeds both have (``{seed: value}``)."""
  seeds = sorted(set(method) & set(control))
  d = np.asarray([method[s] - control[s] for s in seeds], np.float64)
  interval = t_interval(d)
  boot = bootstrap_interval(d) if len(d) >= BOOTSTRAP_FROM else None
  return Paired(len(d), float(d.mean()), float(d.std(ddof=1)), interval, boot,
                verdict(interval, float(d.mean()), direction))
