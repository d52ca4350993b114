"""In-memory data sets: scikit-learn's embedded digits, any TFDS image-classification data set, and the
generated ones (``jaxtricks.data.synthetic``, ``jaxtricks.data.sort_of_clevr``)."""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class ArrayDataset:
  """Network inputs ``images`` (``[N, H, W, C]`` images, or ``[N, D]`` feature vectors) float32, integer
  labels ``[N]`` in ``[0, num_classes)``, and ``extras``: further per-example arrays ``[N, ...]`` that
  every batch carries under their own names (questions, several regression targets, ...)."""

  images: np.ndarray
  labels: np.ndarray
  num_classes: int
  extras: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if self.images.ndim not in (2, 4):
      raise ValueError(f"images must be [N, H, W, C] or [N, D], got shape {self.images.shape}")
    n = self.images.shape[0]
    if self.labels.shape != (n,):
      raise ValueError(f"labels must have shape ({n},), got {self.labels.shape}")
    for name, value in self.extras.items():
      if name in ("image", "label", "mask") or np.shape(value)[:1] != (n,):
        raise ValueError(f"extras[{name!r}] must be [N={n}, ...] and not named image, label or mask; "
                         f"got shape {np.shape(value)}")
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
    return ArrayDataset(self.images[indices], self.labels[indices], self.num_classes,
                        {k: v[indices] for k, v in self.extras.items()})

  workers = threads = 0  # Gathered on the main thread (see ImageDataset.workers).

  def fields(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    """``image``, ``label`` and every extra of the examples ``indices``."""
    return {"image": self.images[indices], "label": self.labels[indices],
            **{k: v[indices] for k, v in self.extras.items()}}

  def training_fields(self, indices: np.ndarray, seeds) -> dict[str, np.ndarray]:
    """As :meth:`fields`: in-memory images are augmented on the device, ``seeds`` are not used."""
    return self.fields(indices)

  def select_classes(self, classes) -> "ArrayDataset":
    """The examples of ``classes`` only, relabelled ``0..len(classes)−1`` in the order given."""
    relabel = class_relabelling(classes, self.num_classes)
    subset = self.subset(np.flatnonzero(relabel[self.labels] >= 0))
    return dataclasses.replace(subset, labels=relabel[subset.labels], num_classes=len(classes))

  def class_counts(self) -> np.ndarray:
    return np.bincount(self.labels, minlength=self.num_classes)


def class_relabelling(classes, num_classes: int) -> np.ndarray:
  """``relabel[c]``: the position of class ``c`` in ``classes`` (distinct, in ``[0, num_classes)``), or
  −1 for a class left out."""
  classes = [int(c) for c in classes]
  if len(set(classes)) != len(classes) or not all(0 <= c < num_classes for c in classes):
    raise ValueError(f"classes must be distinct values in [0, {num_classes}), got {classes}")
  relabel = np.full(num_classes, -1)
  relabel[classes] = np.arange(len(classes))
  return relabel


def _resize(images: np.ndarray, size: int) -> np.ndarray:
  import jax  # Imported lazily: resizing happens once, on the host, at load time.
  n, _, _, c = images.shape
  out = jax.image.resize(images, (n, size, size, c), method="bilinear", antialias=False)
  return np.asarray(out, np.float32)


def standardize(train: ArrayDataset, test: ArrayDataset) -> tuple[ArrayDataset, ArrayDataset]:
  """Per-channel (per-feature for ``[N, D]`` inputs) ``(x − mean) / std`` with the training set's
  statistics applied to both splits."""
  axes = tuple(range(train.images.ndim - 1))
  mean = train.images.mean(axis=axes, dtype=np.float64)
  std = train.images.std(axis=axes, dtype=np.float64) + 1e-6
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
  from jaxtricks.data.streaming import check_array_record
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f"dataset.tfds_name={name!r} is not a TFDS data set ({e})") from None
  features = builder.info.features
  if image_key not in features or label_key not in features:
    raise ValueError(f"TFDS data set {name!r} has features {list(features)}; expected "
                     f"image_key={image_key!r} and label_key={label_key!r}")
  check_array_record(builder, name)
  source = tfds.data_source(name, split=split, data_dir=data_dir)
  records = [source[i] for i in range(len(source))]
  images = np.stack([np.asarray(r[image_key]) for r in records]).astype(np.float32) / 255.0
  labels = np.asarray([r[label_key] for r in records], np.int32)
  if images.ndim == 3:
    images = images[..., None]
  return ArrayDataset(images, labels, int(features[label_key].num_classes))
