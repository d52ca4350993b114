import numpy as np
import pytest

from jaxtricks.data import ArrayDataset, TrainBatches, eval_batches
from jaxtricks.parallel import DataParallel


def _dataset(n=40):
  return ArrayDataset(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1), np.arange(n) % 4, 4)


def test_batches_are_deterministic_and_cover_each_epoch():
  batches = TrainBatches(_dataset(), batch_size=8, seed=3)
  assert batches.steps_per_epoch == 5
  b = batches.batch(0)
  assert b["image"].shape == (8, 1, 1, 1) and b["label"].shape == (8,)
  epoch = np.concatenate([batches.indices(s) for s in range(5)])
  np.testing.assert_array_equal(np.sort(epoch), np.arange(40))
  assert not np.array_equal(batches.indices(0), batches.indices(5))  # Reshuffled per epoch.
  np.testing.assert_array_equal(batches.batch(7)["label"], batches.batch(7)["label"])
  resumed = list(batches.iterate(7, 9))
  assert len(resumed) == 2
  np.testing.assert_array_equal(resumed[0]["image"], batches.batch(7)["image"])


def test_hosts_read_disjoint_slices_of_the_global_batch():
  hosts = [TrainBatches(_dataset(), 8, seed=0, process_index=p, process_count=2) for p in range(2)]
  single = TrainBatches(_dataset(), 8, seed=0)
  np.testing.assert_array_equal(np.concatenate([h.indices(3) for h in hosts]), single.indices(3))


def test_batch_must_divide_over_hosts_and_devices():
  with pytest.raises(ValueError, match=r"batch_size=9 must be a positive multiple .* processes \(2\)"):
    TrainBatches(_dataset(), 9, seed=0, process_count=2)
  with pytest.raises(ValueError, match="exceeds the 40 training examples"):
    TrainBatches(_dataset(), 48, seed=0)
  step = DataParallel("mesh", 8).step(lambda state, batch: state)
  with pytest.raises(ValueError, match=r"the global batch=10 must be a positive multiple .* = 8\)"):
    step(0.0, TrainBatches(_dataset(), 10, seed=0).batch(0))


def test_eval_batches_pad_and_mask():
  seen = []
  for b in eval_batches(_dataset(10), 8):
    assert b["image"].shape == (8, 1, 1, 1)
    seen.append(b["image"].reshape(-1)[b["mask"]])
  np.testing.assert_array_equal(np.concatenate(seen), np.arange(10))


def _imbalanced(n_per_class=(60, 20, 8)):
  labels = np.repeat(np.arange(len(n_per_class)), n_per_class)
  images = np.random.default_rng(0).normal(size=(len(labels), 2, 2, 1)).astype(np.float32)
  return ArrayDataset(images, labels, len(n_per_class))


@pytest.mark.parametrize("resample", ["oversample", "undersample", "smote"])
def test_resampled_epochs_are_class_balanced_and_deferred(resample):
  data = _imbalanced()
  batches = TrainBatches(data, 8, seed=0, resample=resample, resample_from_epoch=2)
  spe = batches.steps_per_epoch
  labels = lambda epoch: np.concatenate([batches.batch(epoch * spe + i)["label"].ravel()
                                         for i in range(spe)])
  np.testing.assert_array_equal(np.bincount(labels(0)), [60, 20, 8])  # Plain epochs first.
  late = np.concatenate([labels(e) for e in range(2, 12)])
  np.testing.assert_allclose(np.bincount(late) / len(late), 1 / 3, atol=0.04)
  np.testing.assert_array_equal(batches.batch(3 * spe)["image"], batches.batch(3 * spe)["image"])


def test_unknown_resample_mode():
  with pytest.raises(ValueError, match="dataset.resample must be one of"):
    TrainBatches(_imbalanced(), 8, seed=0, resample="balanced")
