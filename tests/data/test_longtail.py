import numpy as np
import pytest

from jaxtricks.data import longtail_counts, longtail_indices
from tests.conftest import golden_cases, load_golden


@pytest.mark.parametrize("path", golden_cases("imbalance", "lt_counts_*.npz"))
def test_counts_match_official_code(path):
  """The reference's counts, class by class. The last class's exact count is ``n_max / IF``; where that
  is an integer, the floor of its float64 value depends on the last bit of the platform's ``pow``
  (M2m's ``np.power(μ, i)`` gives 100 for CIFAR-10 at IF = 50 with numpy 2.4, 99 in the reference's
  run): that class may be one below ``n_max / IF``, as the reference's own rounding is."""
  convention = "m2m" if "m2m" in path.stem else "cb"
  for key, expected in load_golden(path).items():
    num_classes = int(key.split("_")[0].removeprefix("cifar"))
    tag = key.split("_if")[1]
    imbalance = 1.0 if tag in ("none", "1") else float(tag)
    n_max = 5000 if num_classes == 10 else 500
    counts = longtail_counts(n_max, num_classes, imbalance, convention=convention)
    last = n_max / imbalance
    if last != int(last):  # The floor is unambiguous.
      np.testing.assert_array_equal(counts, expected, err_msg=key)
    else:
      np.testing.assert_array_equal(counts[:-1], expected[:-1], err_msg=key)
      assert expected[-1] in (last - 1, last) and counts[-1] in (last - 1, last), key


def test_step_profile():
  counts = longtail_counts(100, 10, 10, profile="step")
  np.testing.assert_array_equal(counts, [100] * 5 + [10] * 5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(imbalance_factor=0.5), "imbalance_factor must be >= 1"),
    (dict(imbalance_factor=10, profile="linear"), "profile must be one of"),
    (dict(imbalance_factor=10, convention="x"), "convention must be one of"),
])
def test_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    longtail_counts(100, 10, **kwargs)


def test_indices_take_requested_counts_without_replacement():
  labels = np.repeat(np.arange(4), 50)
  counts = longtail_counts(50, 4, 10)
  idx = longtail_indices(labels, counts, seed=0)
  assert len(np.unique(idx)) == len(idx)
  np.testing.assert_array_equal(np.bincount(labels[idx]), counts)
  np.testing.assert_array_equal(idx, longtail_indices(labels, counts, seed=0))
  with pytest.raises(ValueError, match="class 0 needs 60"):
    longtail_indices(labels, np.array([60, 1, 1, 1]), seed=0)
