"""The MMoE synthetic data: the reference demo's rows, replayed from NumPy's legacy stream (golden)."""

import json

import numpy as np
import pytest

from jaxtricks.data.synthetic import mmoe_datasets, mmoe_synthetic
from tests.conftest import golden_cases, load_golden


def _seed(g: dict, path) -> int:
  if "meta" in g:
    meta = json.loads(str(g["meta"]))
    for key in ("seed", "numpy_seed"):
      if key in meta:
        return int(meta[key])
  return int(path.stem.split("seed")[1].split("_")[0])


@pytest.mark.parametrize("path", golden_cases("relational", "mmoe_synthetic_seed*.npz"))
def test_generator_replays_the_reference_rows(path):
  g = load_golden(path)
  d = mmoe_synthetic(_seed(g, path), float(g["rho"]))
  n = len(g["X"])
  for key in ("alpha", "beta", "u1"):  # Direct draws and elementwise arithmetic: bitwise.
    np.testing.assert_array_equal(d[key], g[key], err_msg=key)
  np.testing.assert_array_equal(d["X"][:n], g["X"])
  noise = np.stack([g["noise0"].ravel(), g["noise1"].ravel()], axis=1)
  np.testing.assert_array_equal(d["noise"][:n], noise)
  # Through 100-term dot products whose summation order is the BLAS kernel's (it differs between CPUs):
  # each sum of n terms is off by at most n·eps·Σ|terms| (Higham's γ_n), and a sum goes on through the
  # sines with a slope of at most 1 + Σ|α_i|; each sine adds a few ulps of its own (numpy's SIMD libm).
  dim, eps = len(g["w1"]), np.finfo(np.float64).eps
  for key in ("u2", "w1", "w2"):  # A projection and a norm: one dot product each, then scaled.
    np.testing.assert_allclose(d[key], g[key], rtol=0, atol=2 * dim * eps * np.abs(g[key]).max(), err_msg=key)
  labels = np.stack([g["y0"].ravel(), g["y1"].ravel()], axis=1)
  terms = np.abs(g["X"]) @ np.abs(np.stack([g["w1"], g["w2"]], axis=1))  # Σ|x_i·w_i| per row and task.
  slope = 1 + np.abs(g["alpha"]).sum()
  sines = 4 * eps * len(g["alpha"]) * (1 + np.abs(labels).max())
  np.testing.assert_array_less(np.abs(d["y"][:n] - labels), 2 * dim * eps * slope * terms + sines)
  # The labels' correlation over all 12,000 rows: rho sets the weights' cosine, not this. A sum of
  # 12,000 products of terms of size ~1 (a correlation of 1 at most).
  rows = len(d["y"])
  assert np.corrcoef(d["y"].T)[0, 1] == pytest.approx(float(g["label_pearson_12000"]), abs=4 * rows * eps)
  np.testing.assert_allclose(d["w2"] @ d["w1"] / (0.3 * 0.3), float(g["rho"]), atol=4 * dim * eps)


def test_rho_changes_only_the_second_task():
  a, b = mmoe_synthetic(3, 0.2, num_rows=50), mmoe_synthetic(3, 0.9, num_rows=50)
  np.testing.assert_array_equal(a["X"], b["X"])
  np.testing.assert_array_equal(a["y"][:, 0], b["y"][:, 0])
  assert not np.allclose(a["y"][:, 1], b["y"][:, 1])
  with pytest.raises(ValueError, match="rho must be in"):
    mmoe_synthetic(0, 1.5)


def test_datasets_split_as_the_demo_and_binary_targets():
  train, test = mmoe_datasets(1, 0.8, num_train=300, num_test=100)
  full = mmoe_synthetic(1, 0.8, num_rows=1400)
  assert train.images.shape == (300, 100) and test.images.shape == (100, 100)
  np.testing.assert_allclose(train.extras["targets"], full["y"][:300], rtol=1e-6)
  np.testing.assert_allclose(test.extras["targets"], full["y"][1300:], rtol=1e-6)  # Validation skipped.
  binary, _ = mmoe_datasets(1, 0.8, num_train=300, num_test=100, binary=True)
  np.testing.assert_array_equal(binary.extras["targets"], full["y"][:300] > np.median(full["y"][:300], 0))
  np.testing.assert_allclose(binary.extras["targets"].mean(0), 0.5)
