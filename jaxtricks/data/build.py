"""Builds the train/test splits a config asks for."""

from __future__ import annotations

import ml_collections
import numpy as np

from jaxtricks.data.datasets import ArrayDataset, load_digits, load_tfds, standardize
from jaxtricks.data.longtail import longtail_counts, longtail_indices
from jaxtricks.data.sort_of_clevr import sort_of_clevr_datasets
from jaxtricks.data.streaming import ArrayRecordImages, ImageDataset, ImageFolder, TfdsImages
from jaxtricks.data.synthetic import mmoe_datasets
from jaxtricks.paths import local_path

SOURCES = ("digits", "tfds", "folder", "array_record", "mmoe_synthetic", "sort_of_clevr")
STREAMED = ("folder", "array_record")  # And tfds with dataset.streaming.
EVALUATE_ON = ("test", "validation")


def build_datasets(config: ml_collections.ConfigDict) -> tuple[ArrayDataset | ImageDataset,
                                                               ArrayDataset | ImageDataset]:
  """``config`` is the ``dataset`` block of a training config.

  Loads the source, keeps ``train_classes`` / ``test_classes`` if given, makes the training split
  long-tailed when ``imbalance_factor > 1`` (class 0 keeps ``n_max`` = the smallest class count; the
  test split stays balanced) and, with ``standardize``, standardises both splits with training-set
  statistics (else pixels stay in [0, 1]). ``mmoe_synthetic`` (MMoE's two regression tasks with
  weight cosine ``rho``, generated from ``split_seed``; ``binarize``: 0/1 targets, above the training
  median) and ``sort_of_clevr`` (``num_train`` / ``num_test`` scenes of ``version`` with all their
  questions) are returned as generated, from ``split_seed``.

  ``val_fraction > 0`` carves a validation split out of the training split: for the generated
  sources its last rows (independent draws; a scene keeps its questions), else a stratified one
  (seeded by ``split_seed``) after ``train_classes`` and before the long tail, so it is balanced like the test
  split (model selection then aims at the balanced accuracy that is reported) and every class keeps
  validation examples; its examples never train. ``evaluate_on`` picks the split that is returned
  second: ``test`` (the default) or ``validation`` (choose hyper-parameters on it, then report the
  chosen configuration's test accuracy once, with the same training split).

  Streamed sources (``folder``, ``array_record``, ``tfds`` with ``streaming``) give
  :class:`ImageDataset` splits: labels in memory, images decoded per batch; they are normalised on the
  device (``pixel_mean`` / ``pixel_std``), not here.
  """
  if config.evaluate_on not in EVALUATE_ON:
    raise ValueError(f"dataset.evaluate_on must be one of {EVALUATE_ON}, got {config.evaluate_on!r}")
  if not 0.0 <= config.val_fraction < 1.0:
    raise ValueError(f"dataset.val_fraction must be in [0, 1), got {config.val_fraction}")
  if config.evaluate_on == "validation" and not config.val_fraction:
    raise ValueError("dataset.evaluate_on='validation' needs dataset.val_fraction > 0")
  streamed = config.source in STREAMED or (config.source == "tfds" and config.streaming)
  if config.val_fraction and streamed:
    raise ValueError(f"dataset.val_fraction needs labelled images in memory; dataset.source="
                     f"{config.source!r} (streamed) does not take it (got {config.val_fraction})")
  if config.source in ("mmoe_synthetic", "sort_of_clevr"):
    for key in ("imbalance_factor", "train_classes", "test_classes"):
      if config[key] not in (1.0, ()):
        raise ValueError(f"dataset.{key} applies to labelled images; dataset.source="
                         f"{config.source!r} does not take it (got {config[key]!r})")
    if config.source == "sort_of_clevr":
      train, test = sort_of_clevr_datasets(config.split_seed, config.num_train or 9800,
                                           config.num_test or 200, version=config.version)
    else:
      train, test = mmoe_datasets(config.split_seed, config.rho, num_train=config.num_train or 10000,
                                  num_test=config.num_test or 1000, binary=config.binarize)
    if not config.val_fraction:
      return train, test
    # Generated rows are independent draws: the last val_fraction of them (whole scenes) hold out.
    kept = len(train) - int(round(config.val_fraction * len(train)))
    validation = train.subset(np.arange(kept, len(train)))
    return train.subset(np.arange(kept)), validation if config.evaluate_on == "validation" else test
  if config.source == "digits":
    train, test = load_digits(image_size=config.image_size, channels=config.channels,
                              test_fraction=config.test_fraction, split_seed=config.split_seed)
  elif streamed:
    train, test = _streamed(config)
  elif config.source == "tfds":
    train = load_tfds(config.tfds_name, split=config.train_split, data_dir=config.data_dir)
    test = load_tfds(config.tfds_name, split=config.test_split, data_dir=config.data_dir)
  else:
    raise ValueError(f"dataset.source must be one of {SOURCES}, got {config.source!r}")
  if config.train_classes:
    train = train.select_classes(config.train_classes)
  if config.test_classes:
    test = test.select_classes(config.test_classes)
  validation = None
  if config.val_fraction:
    train, validation = validation_split(train, config.val_fraction, seed=config.split_seed)
  if config.imbalance_factor < 1:
    raise ValueError(f"dataset.imbalance_factor must be >= 1, got {config.imbalance_factor}")
  if config.imbalance_factor > 1:
    n_max = int(train.class_counts().min())
    counts = longtail_counts(n_max, train.num_classes, config.imbalance_factor,
                             profile=config.imbalance_profile)
    if np.any(counts == 0):
      raise ValueError(f"dataset.imbalance_factor={config.imbalance_factor} leaves an empty class "
                       f"(counts {counts.tolist()})")
    train = train.subset(longtail_indices(train.labels, counts, seed=config.split_seed))
  evaluated = validation if config.evaluate_on == "validation" else test
  if isinstance(train, ImageDataset) or not config.standardize:
    return train, evaluated
  return standardize(train, evaluated)


# The options build_datasets applies to what it loads, with the values that leave it as loaded.
APPLIED_WHEN_BUILT = {"train_classes": (), "test_classes": (), "val_fraction": 0.0, "evaluate_on": "test",
                      "imbalance_factor": 1.0}


def check_given_datasets(config: ml_collections.ConfigDict) -> None:
  """A ``ValueError`` naming the first option of the ``dataset`` block that :func:`build_datasets`
  would apply but that data sets given to ``fit`` (``datasets=``: used as they are) would not get."""
  for key, default in APPLIED_WHEN_BUILT.items():
    value = config[key]
    if (tuple(value) if isinstance(value, (list, tuple)) else value) != default:
      raise ValueError(f"dataset.{key}={value!r} acts when the data set is built from the config; the "
                       f"datasets given to fit are used as they are: apply it to them (build_datasets "
                       f"does it for a dataset block) or leave dataset.{key} at {default!r}")


def validation_split(train: ArrayDataset, fraction: float, *,
                     seed: int) -> tuple[ArrayDataset, ArrayDataset]:
  """``(train without the validation examples, validation)``: a stratified ``fraction`` of ``train``
  (at least one example of each class), both in their original order."""
  from sklearn.model_selection import train_test_split

  held_out = max(int(round(fraction * len(train.labels))), train.num_classes)
  keep, val = train_test_split(np.arange(len(train.labels)), test_size=held_out, stratify=train.labels,
                               random_state=seed)
  return train.subset(np.sort(keep)), train.subset(np.sort(val))


def _streamed(config: ml_collections.ConfigDict) -> tuple[ImageDataset, ImageDataset]:
  if config.source == "tfds":
    open_split = lambda split, classes: TfdsImages(config.tfds_name, split=split,  # noqa: E731
                                                   data_dir=config.data_dir)
  else:
    if not config.path:
      raise ValueError(f"dataset.source={config.source!r} needs dataset.path: the directory that holds "
                       f"{config.train_split}/ and {config.test_split}/")
    root = local_path(config.path, "dataset.path")  # A TFDS data_dir may be a URL; folders and shards not.
    kind = ImageFolder if config.source == "folder" else ArrayRecordImages
    open_split = lambda split, classes: kind(root / split, classes)  # noqa: E731
  train = open_split(config.train_split, None)
  test = open_split(config.test_split, train.classes)
  options = dict(num_classes=len(train.classes), image_size=config.image_size,
                 eval_resize=config.eval_resize, crop_scale=tuple(config.crop_scale),
                 crop_ratio=tuple(config.crop_ratio), flip=config.crop_flip, workers=config.workers,
                 threads=config.threads, skip_bad_files=config.skip_bad_files)
  return ImageDataset(train, **options), ImageDataset(test, **options)
