import numpy as np
import pytest

from jaxtricks.data.resampling import (nearest_neighbors, oversample_indices, smote, smote_interpolate,
                                       undersample_indices)
from tests.conftest import golden_cases, load_golden


@pytest.mark.parametrize("path", golden_cases("imbalance", "smote_imblearn_*.npz"))
def test_smote_neighbours_and_interpolation_match_imbalanced_learn(path):
  g = load_golden(path)
  X, y, k = g["X"], g["y"], int(g["k_neighbors"])
  for c in g["sampling_strategy_classes"]:
    members = X[y == c]
    np.testing.assert_array_equal(nearest_neighbors(members, k), g[f"knn_within_class_{c}"])
  # Replaying imbalanced-learn's recorded draws through our interpolation gives its output exactly.
  synthetic = smote_interpolate(X[g["synthetic_base_index"]], X[g["synthetic_neighbor_index"]],
                                g["synthetic_step"])
  n = int(g["n_original"])
  np.testing.assert_allclose(synthetic, g["X_resampled"][n:], rtol=1e-6, atol=1e-6)
  # Same counts, classes and order as imbalanced-learn's fit_resample.
  X_res, y_res = smote(X, y, seed=0, k_neighbors=k)
  np.testing.assert_array_equal(y_res, g["y_resampled"])
  np.testing.assert_array_equal(X_res[:n], X)


def test_smote_statistics_match_imbalanced_learn_with_the_same_settings():
  imblearn = pytest.importorskip("imblearn")
  rng = np.random.default_rng(0)
  X = np.concatenate([rng.normal(0, 1, (2000, 4)), rng.normal(3, 0.5, (40, 4))]).astype(np.float32)
  y = np.repeat([0, 1], [2000, 40])
  ours, _ = smote(X, y, seed=1)
  theirs, _ = imblearn.over_sampling.SMOTE(random_state=1).fit_resample(X, y)
  new_ours, new_theirs = ours[2040:], theirs[2040:]
  assert new_ours.shape == new_theirs.shape == (1960, 4)
  # Both draw from the same distribution: means agree within 4 standard errors, spreads within 10 %.
  se = np.sqrt(new_ours.var(0) / 1960 + new_theirs.var(0) / 1960)
  assert np.all(np.abs(new_ours.mean(0) - new_theirs.mean(0)) < 4 * se)
  np.testing.assert_allclose(new_ours.std(0), new_theirs.std(0), rtol=0.1)
  # Every synthetic point lies on a segment from a minority point to one of its 5 nearest neighbours.
  members = X[2000:]
  knn = nearest_neighbors(members, 5)
  a = np.repeat(members, 5, axis=0)[None]  # [1, 40·5, D] segment starts
  b = members[knn.reshape(-1)][None]  # [1, 40·5, D] segment ends
  x = new_ours[:200, None]
  t = np.clip(np.sum((x - a) * (b - a), -1) / np.sum((b - a) ** 2, -1), 0, 1)[..., None]
  assert np.linalg.norm(x - (a + t * (b - a)), axis=-1).min(axis=1).max() < 1e-4


def test_nearest_neighbors_in_chunks_equal_one_shot():
  points = np.random.default_rng(1).normal(size=(1000, 8)).astype(np.float32)
  np.testing.assert_array_equal(nearest_neighbors(points, 5, max_chunk_elements=7 * 1000),
                                nearest_neighbors(points, 5))
  with pytest.raises(ValueError, match="needs at least k\\+1=6 points"):
    nearest_neighbors(points[:5], 5)


def test_over_and_under_sampling_balance_the_classes():
  labels = np.repeat([0, 1, 2], [50, 10, 3])
  over = oversample_indices(labels, seed=0)
  np.testing.assert_array_equal(np.bincount(labels[over]), [50, 50, 50])
  assert set(np.flatnonzero(labels == 2)) <= set(over)
  under = undersample_indices(labels, seed=0)
  np.testing.assert_array_equal(np.bincount(labels[under]), [3, 3, 3])
  assert len(np.unique(under)) == len(under)


def test_smote_on_tiny_classes_uses_fewer_neighbours():
  X = np.arange(14, dtype=np.float32).reshape(7, 2)
  y = np.array([0, 0, 0, 0, 1, 1, 2])
  X_res, y_res = smote(X, y, seed=0)
  np.testing.assert_array_equal(np.bincount(y_res), [4, 4, 4])
  np.testing.assert_array_equal(X_res[y_res == 2], np.repeat(X[6:7], 4, axis=0))  # Only repeats.
  between = X_res[7:9]  # Class 1: on the segment between its two points.
  assert np.all((between >= X[4]) & (between <= X[5]))
