import numpy as np
import pytest

from jaxtricks.data import ArrayDataset, build_datasets, load_digits, load_tfds
from jaxtricks.training import base_config
from tests.conftest import mock_tfds


def test_digits_split_is_stratified_and_fixed():
  train, test = load_digits()
  assert train.images.shape[1:] == (8, 8, 1) and train.images.dtype == np.float32
  assert len(train) + len(test) == 1797
  assert 0.0 <= train.images.min() and train.images.max() <= 1.0
  ratio = test.class_counts() / (train.class_counts() + test.class_counts())
  np.testing.assert_allclose(ratio, 0.3, atol=0.01)
  again, _ = load_digits()
  np.testing.assert_array_equal(train.labels, again.labels)


def test_digits_resized_to_cifar_shape():
  train, _ = load_digits(image_size=32, channels=3)
  assert train.images.shape[1:] == (32, 32, 3)
  np.testing.assert_array_equal(train.images[..., 0], train.images[..., 2])


def test_build_longtailed_split_keeps_test_balanced():
  config = base_config().dataset
  config.imbalance_factor = 10.0
  train, test = build_datasets(config)
  counts = train.class_counts()
  assert counts[0] / counts[-1] == pytest.approx(10, rel=0.05)
  assert np.all(np.diff(counts) <= 0)
  assert np.ptp(test.class_counts()) <= 3  # Test split untouched: ~54 per class.
  np.testing.assert_allclose(train.images.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)


def _unstandardized(**options):
  config = base_config().dataset
  config.update(standardize=False, **options)
  return config


def _rows(dataset) -> set[bytes]:
  return {image.tobytes() for image in dataset.images}


def test_validation_split_is_carved_from_training_before_the_long_tail():
  """Stratified, disjoint from the training and test splits, balanced like the test split (carved
  before the long tail, so the rare classes keep validation examples), seeded by split_seed; the
  training split is the same whichever split the run evaluates on."""
  train_all, test = build_datasets(_unstandardized())
  train, validation = build_datasets(_unstandardized(val_fraction=0.2, evaluate_on="validation"))
  train_t, test_t = build_datasets(_unstandardized(val_fraction=0.2))
  assert len(validation.labels) == round(0.2 * len(train_all.labels))
  assert np.ptp(validation.class_counts()) <= 1 and np.ptp(test.class_counts()) <= 3
  assert _rows(train) | _rows(validation) == _rows(train_all)
  assert not _rows(train) & _rows(validation) and not _rows(validation) & _rows(test)
  np.testing.assert_array_equal(train.images, train_t.images)
  np.testing.assert_array_equal(test.images, test_t.images)
  tail, tail_validation = build_datasets(_unstandardized(val_fraction=0.2, evaluate_on="validation",
                                                         imbalance_factor=10.0))
  assert tail.class_counts()[0] / tail.class_counts()[-1] == pytest.approx(10, rel=0.1)
  np.testing.assert_array_equal(tail_validation.images, validation.images)
  _, other = build_datasets(_unstandardized(val_fraction=0.2, evaluate_on="validation", split_seed=1))
  assert _rows(other) != _rows(validation)


def test_standardized_validation_uses_the_training_statistics():
  config = base_config().dataset
  config.update(val_fraction=0.2, evaluate_on="validation")
  train, validation = build_datasets(config)
  raw_train, raw_validation = build_datasets(_unstandardized(val_fraction=0.2, evaluate_on="validation"))
  mean, std = raw_train.images.mean(), raw_train.images.std() + 1e-6
  np.testing.assert_allclose(validation.images, (raw_validation.images - mean) / std, atol=1e-4)
  np.testing.assert_allclose(train.images.mean(), 0.0, atol=1e-5)


@pytest.mark.parametrize("field, value, match", [
    ("source", "imagenet", "dataset.source must be one of"),
    ("imbalance_factor", 0.5, "dataset.imbalance_factor must be >= 1"),
    ("val_fraction", 1.0, r"dataset.val_fraction must be in \[0, 1\)"),
    ("evaluate_on", "val", r"dataset.evaluate_on must be one of \('test', 'validation'\)"),
    ("evaluate_on", "validation", "needs dataset.val_fraction > 0"),
])
def test_bad_dataset_config(field, value, match):
  config = base_config().dataset
  config[field] = value
  with pytest.raises(ValueError, match=match):
    build_datasets(config)


def test_a_streamed_source_takes_no_validation_split():
  config = base_config().dataset
  config.update(source="folder", val_fraction=0.1, path="unused")
  with pytest.raises(ValueError, match="dataset.val_fraction needs labelled images in memory; "
                                       "dataset.source='folder' .streamed."):
    build_datasets(config)


def test_a_generated_source_holds_out_its_last_scenes_with_their_questions():
  config = base_config().dataset
  config.update(source="sort_of_clevr", num_train=20, num_test=4)
  train_all, test = build_datasets(config)
  config.update(val_fraction=0.25, evaluate_on="validation")
  train, validation = build_datasets(config)
  assert (len(train), len(validation)) == (15, 5)
  np.testing.assert_array_equal(validation.images, train_all.images[15:])
  np.testing.assert_array_equal(validation.extras["questions"], train_all.extras["questions"][15:])
  np.testing.assert_array_equal(train.extras["answers"], train_all.extras["answers"][:15])
  config.evaluate_on = "test"
  np.testing.assert_array_equal(build_datasets(config)[1].images, test.images)


def test_labels_outside_num_classes_are_rejected():
  with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=3\)"):
    ArrayDataset(np.zeros((2, 4, 4, 1), np.float32), np.array([0, 3]), 3)


def test_tfds_adapter_reads_any_image_classification_set():
  with mock_tfds(num_examples=12):
    data = load_tfds("cifar10", split="train")
    assert data.images.shape == (12, 32, 32, 3) and data.num_classes == 10
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    with pytest.raises(ValueError, match="not_a_dataset"):
      load_tfds("not_a_dataset", split="train")
