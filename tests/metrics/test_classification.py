import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, recall_score

from jaxtricks.metrics import balanced_accuracy, per_class_counts, per_class_recall


def test_balanced_accuracy_equals_scikit_learn_and_merges_over_batches():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 5, 300)
  logits = rng.normal(size=(300, 5)) + 2 * np.eye(5)[labels] * rng.integers(0, 2, (300, 1))
  predictions = logits.argmax(-1)
  counts = [per_class_counts(jnp.asarray(logits[i:i + 64]), jnp.asarray(labels[i:i + 64]), 5)
            for i in range(0, 300, 64)]
  correct = sum(c for c, _ in counts)
  total = sum(t for _, t in counts)
  assert balanced_accuracy(correct, total) == pytest.approx(balanced_accuracy_score(labels, predictions))
  np.testing.assert_allclose(per_class_recall(correct, total),
                             recall_score(labels, predictions, average=None))


def test_masked_rows_are_ignored_and_absent_classes_skipped():
  logits = jax.nn.one_hot(jnp.array([0, 1, 1, 0]), 3)
  labels = jnp.array([0, 1, 0, 2])
  correct, total = per_class_counts(logits, labels, 3, where=jnp.array([True, True, True, False]))
  np.testing.assert_array_equal(correct, [1, 1, 0])
  np.testing.assert_array_equal(total, [2, 1, 0])
  assert np.isnan(per_class_recall(correct, total)[2])
  assert balanced_accuracy(correct, total) == pytest.approx(0.75)
  with pytest.raises(ValueError, match="at least one example"):
    balanced_accuracy([0, 0], [0, 0])


def test_best_map_accuracy_equals_the_best_permutation_by_brute_force():
  import itertools

  from jaxtricks.metrics import best_map_accuracy
  rng = np.random.default_rng(0)
  for _ in range(5):
    labels = rng.integers(0, 4, 40)
    clusters = np.where(rng.random(40) < 0.6, (labels + 1) % 4, rng.integers(0, 4, 40))
    brute = max(np.mean(np.asarray(p)[clusters] == labels) for p in itertools.permutations(range(4)))
    assert best_map_accuracy(clusters, labels, 4, 4) == pytest.approx(brute)
  assert best_map_accuracy(np.array([2, 2, 0]), np.array([1, 1, 0]), 3, 2) == 1.0
  assert best_map_accuracy(np.zeros(4, int), np.arange(4) % 2, 1, 2) == 0.5  # One cluster, one class.
