"""Data: embedded and TFDS data sets, streamed image folders / ArrayRecord / TFDS, long-tailed
subsampling, batching, on-device augmentation."""

from jaxtricks.data.augment import mix_with_reversed, mixup, random_crop_flip
from jaxtricks.data.build import build_datasets, validation_split
from jaxtricks.data.datasets import ArrayDataset, load_digits, load_tfds, standardize
from jaxtricks.data.longtail import longtail_counts, longtail_indices
from jaxtricks.data.pipeline import JointBatches, TrainBatches, eval_batches, map_in_chunks
from jaxtricks.data.resampling import (nearest_neighbors, oversample_indices, smote, smote_interpolate,
                                       undersample_indices)
from jaxtricks.data.streaming import ArrayRecordImages, ImageDataset, ImageFolder, TfdsImages
