"""The verdict rule and its intervals (``jaxtricks.experiments.stats``)."""

import numpy as np
import pytest

from jaxtricks.experiments import stats


def test_t_interval_is_students_with_the_sample_std():
  d = [0.01, 0.03, 0.02, 0.04, 0.00]
  low, high = stats.t_interval(d)
  half = 2.7764451051977987 * np.std(d, ddof=1) / np.sqrt(5)  # t_{0.975, 4}
  assert low == pytest.approx(0.02 - half) and high == pytest.approx(0.02 + half)
  with pytest.raises(ValueError, match="at least 2 seeds"):
    stats.t_interval([0.1])


@pytest.mark.parametrize("interval, mean, direction, expected", [
    ((0.01, 0.03), 0.02, 1, "yes"),
    ((-0.01, 0.03), 0.01, 1, "direction only"),
    ((-0.03, 0.01), -0.01, 1, "no"),
    ((-0.03, -0.01), -0.02, -1, "yes"),   # a claimed cost: the interval below 0
    ((-0.03, -0.01), -0.02, 1, "no"),
    ((-0.01, 0.01), 0.0, -1, "no"),
])
def test_verdict_rule(interval, mean, direction, expected):
  assert stats.verdict(interval, mean, direction) == expected


def test_paired_uses_the_common_seeds_and_reports_a_bootstrap_from_ten():
  method = {s: 0.9 + 0.01 * s for s in range(10)}
  control = {s: 0.85 + 0.012 * s for s in range(12)}
  result = stats.paired(method, control)
  assert result.n == 10 and result.verdict == "yes"
  assert result.mean == pytest.approx(np.mean([0.05 - 0.002 * s for s in range(10)]))
  assert result.bootstrap[0] <= result.mean <= result.bootstrap[1]
  assert stats.paired({0: 0.9, 1: 0.8}, {0: 0.85, 1: 0.85}).bootstrap is None
  assert result.describe() == f"+{100 * result.mean:.1f} [+{100 * result.interval[0]:.1f}, " \
                              f"+{100 * result.interval[1]:.1f}]"
