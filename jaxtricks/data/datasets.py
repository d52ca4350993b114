"""In-memory image-classification data sets: scikit-learn's embedded digits and any TFDS data set."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
  """Images ``[N, H, W, C]`` float32 and integer labels ``[N]`` in ``[0, num_classes)``."""

  images: np.ndarray
  labels: np.ndarray
  num_classes: int

  def __post_init__(self):
    if self.images.ndim != 4:
      raise ValueError(f"images must be [N, H, W, C], got shape {self.images.shape}")
    if self.labels.shape != (self.images.shape[0],):
      raise ValueError(
          f"labels must have shape ({self.images.shape[0]},), got {self.labels.shape}")
    if not np.isfinite(self.images).all():
      bad = int(np.flatnonzero(~np.isfinite(self.images).reshape(len(self.images), -1).all(1))[0])
      raise ValueError(f"images must be finite: image {bad} holds NaN or Inf")
    if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= self.num_classes):
      raise ValueError(
          f"labels must lie in [0, num_classes={self.num_classes}), got values in "
          f"[{self.labels.min()}, {self.labels.max()}]")

  def __len__(self) -> int:
    return int(self.labels.shape[0])

  def subset(self, indices: np.ndarray) -> "ArrayDataset":
    return ArrayDataset(self.images[indices], self.labels[indices], self.num_classes)

  def select_classes(self, classes) -> "ArrayDataset":
    """The examples of ``classes`` only, relabelled ``0..len(classes)−1`` in the order given."""
    classes = [int(c) for c in classes]
    if len(set(classes)) != len(classes) or not all(0 <= c < self.num_classes for c in classes):
      raise ValueError(f"classes must be distinct values in [0, {self.num_classes}), got {classes}")
    relabel = np.full(self.num_classes, -1)
    relabel[classes] = np.arange(len(classes))
    keep = relabel[self.labels] >= 0
    return ArrayDataset(self.images[keep], relabel[self.labels[keep]], len(classes))

  def class_counts(self) -> np.ndarray:
    return np.bincount(self.labels, minlength=self.num_classes)


def _resize(images: np.ndarray, size: int) -> np.ndarray:
  import jax  # Imported lazily: resizing happens once, on the host, at load time.
  n, _, _, c = images.shape
  out = jax.image.resize(images, (n, size, size, c), method="bilinear", antialias=False)
  return np.asarray(out, np.float32)


def standardize(train: ArrayDataset, test: ArrayDataset) -> tuple[ArrayDataset, ArrayDataset]:
  """Per-channel ``(x − mean) / std`` with the training set's statistics applied to both splits."""
  mean = train.images.mean(axis=(0, 1, 2), dtype=np.float64)
  std = train.images.std(axis=(0, 1, 2), dtype=np.float64) + 1e-6
  norm = lambda d: dataclasses.replace(d, images=((d.images - mean) / std).astype(np.float32))
  return norm(train), norm(test)


def load_digits(*, image_size: int = 8, channels: int = 1, test_fraction: float = 0.3,
                split_seed: int = 0) -> tuple[ArrayDataset, ArrayDataset]:
  """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), split by class.

  Pixels are scaled to [0, 1]; ``image_size=32, channels=3`` resizes bilinearly and repeats the grey
  channel so CIFAR-style networks run unchanged. The train/test split is stratified with a fixed seed.
  """
  from sklearn.datasets import load_digits as sk_load_digits
  from sklearn.model_selection import train_test_split

  if channels not in (1, 3):
    raise ValueError(f"channels must be 1 or 3, got {channels}")
  if not 0.0 < test_fraction < 1.0:
    raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
  digits = sk_load_digits()
  images = (digits.images / 16.0).astype(np.float32)[..., None]
  labels = digits.target.astype(np.int32)
  if image_size != 8:
    images = _resize(images, image_size)
  if channels == 3:
    images = np.repeat(images, 3, axis=-1)
  train_idx, test_idx = train_test_split(
      np.arange(len(labels)), test_size=test_fraction, stratify=labels, random_state=split_seed)
  full = ArrayDataset(images, labels, 10)
  return full.subset(np.sort(train_idx)), full.subset(np.sort(test_idx))


def load_tfds(name: str, *, split: str, data_dir: str | None = None, image_key: str = "image",
              label_key: str = "label") -> ArrayDataset:
  """Reads a whole TFDS image-classification split into memory via ``tfds.data_source`` (no TensorFlow).

  Needs the ``tfds`` extra (``pip install -e ".[tfds]"``) and a prepared data set in ``data_dir``.
  Pixels are scaled to [0, 1].
  """
  try:
    import tensorflow_datasets as tfds
  except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError('TFDS data sets need the tfds extra: pip install -e ".[tfds]"') from e
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f"dataset.tfds_name={name!r} is not a TFDS data set ({e})") from None
  features = builder.info.features
  if image_key not in features or label_key not in features:
    raise ValueError(f"TFDS data set {name!r} has features {list(features)}; expected "
                     f"image_key={image_key!r} and label_key={label_key!r}")
  source = tfds.data_source(name, split=split, data_dir=data_dir)
  records = [source[i] for i in range(len(source))]
  images = np.stack([np.asarray(r[image_key]) for r in records]).astype(np.float32) / 255.0
  labels = np.asarray([r[label_key] for r in records], np.int32)
  if images.ndim == 3:
    images = images[..., None]
  return ArrayDataset(images, labels, int(features[label_key].num_classes))
