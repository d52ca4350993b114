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
  for key in ("u2", "w1", "w2"):  # Through a 100-term dot product: the BLAS's summation order.
    np.testing.assert_allclose(d[key], g[key], rtol=0, atol=1e-16, err_msg=key)
  labels = np.stack([g["y0"].ravel(), g["y1"].ravel()], axis=1)
  np.testing.assert_allclose(d["y"][:n], labels, rtol=0, atol=2e-15)
  # The labels' correlation over all 12,000 rows: rho sets the weights' cosine, not this.
  assert np.corrcoef(d["y"].T)[0, 1] == pytest.approx(float(g["label_pearson_12000"]), abs=1e-12)
  np.testing.assert_allclose(d["w2"] @ d["w1"] / (0.3 * 0.3), float(g["rho"]), atol=1e-12)


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
