import jax
import numpy as np

from jaxtricks.losses import batch_hard_triplet_loss, valid_triplet_anchors
from jaxtricks.metrics import recall_at_k


def test_batch_hard_triplet_loss_picks_the_hardest_pairs():
  rng = np.random.default_rng(0)
  x = rng.standard_normal((12, 3)).astype(np.float32)
  y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4])  # Class 4 has no positive.
  loss = np.asarray(jax.jit(lambda x: batch_hard_triplet_loss(x, y, margin=0.3))(x))
  d = np.linalg.norm(x[:, None] - x[None], axis=-1)
  for i in range(12):
    positives = [j for j in range(12) if y[j] == y[i] and j != i]
    if not positives:
      assert loss[i] == 0
      continue
    negatives = [j for j in range(12) if y[j] != y[i]]
    expected = max(0.0, d[i, positives].max() - d[i, negatives].min() + 0.3)
    np.testing.assert_allclose(loss[i], expected, rtol=1e-4, atol=1e-5)
  assert valid_triplet_anchors(y).tolist() == [True] * 11 + [False]
  assert np.all(np.isfinite(jax.grad(lambda x: batch_hard_triplet_loss(x, y).mean())(x)))


def test_recall_at_k_matches_brute_force_and_excludes_the_query():
  rng = np.random.default_rng(1)
  x = rng.standard_normal((50, 4)).astype(np.float32)
  y = rng.integers(0, 5, 50)
  d = ((x[:, None] - x[None]) ** 2).sum(-1)
  np.fill_diagonal(d, np.inf)
  order = np.argsort(d, axis=1)
  got = recall_at_k(x, y, ks=(1, 3, 8), chunk_size=16)  # 50 is not a multiple of 16.
  for k in (1, 3, 8):
    assert got[k] == np.mean([np.any(y[order[i, :k]] == y[i]) for i in range(50)])
  # A set of identical points per class: every query finds its class at K = 1.
  assert recall_at_k(np.repeat(np.eye(3), 4, axis=0), np.repeat(np.arange(3), 4), ks=(1,))[1] == 1.0
