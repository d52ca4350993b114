"""Deterministic, resumable batching that shards each global batch over hosts and local devices."""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from jaxtricks.data.datasets import ArrayDataset


def _check_divisible(batch_size: int, num_devices: int, process_count: int) -> None:
  shards = num_devices * process_count
  if batch_size <= 0 or batch_size % shards:
    raise ValueError(
        f"batch_size={batch_size} must be a positive multiple of the number of devices "
        f"({num_devices} local × {process_count} hosts = {shards})")


@dataclasses.dataclass(frozen=True)
class TrainBatches:
  """Batch ``step`` of a run is a pure function of ``(seed, step)``.

  Epoch ``e`` visits the examples in the order ``default_rng([seed, e]).permutation(N)`` and drops the
  last incomplete batch, so a resumed run sees exactly the batches an uninterrupted one would. Each host
  (``jax.process_index()``) keeps its contiguous slice of the global batch and reshapes it to
  ``[local_devices, per_device, ...]``.
  """

  dataset: ArrayDataset
  batch_size: int
  seed: int
  num_devices: int = 1
  process_index: int = 0
  process_count: int = 1

  def __post_init__(self):
    _check_divisible(self.batch_size, self.num_devices, self.process_count)
    if self.batch_size > len(self.dataset):
      raise ValueError(f"batch_size={self.batch_size} exceeds the {len(self.dataset)} training examples")

  @property
  def steps_per_epoch(self) -> int:
    return len(self.dataset) // self.batch_size

  def indices(self, step: int) -> np.ndarray:
    epoch, i = divmod(step, self.steps_per_epoch)
    order = np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset))
    batch = order[i * self.batch_size:(i + 1) * self.batch_size]
    per_host = self.batch_size // self.process_count
    return batch[self.process_index * per_host:(self.process_index + 1) * per_host]

  def batch(self, step: int) -> dict[str, np.ndarray]:
    idx = self.indices(step)
    shape = (self.num_devices, -1)
    return {"image": self.dataset.images[idx].reshape(shape + self.dataset.images.shape[1:]),
            "label": self.dataset.labels[idx].reshape(shape)}

  def __call__(self, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
    step = start_step
    while True:
      yield self.batch(step)
      step += 1


def eval_batches(dataset: ArrayDataset, batch_size: int, *, num_devices: int = 1,
                 process_index: int = 0, process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
  """Every example once, in order; the last batch is zero-padded and ``mask`` marks the real rows."""
  _check_divisible(batch_size, num_devices, process_count)
  per_host = batch_size // process_count
  n = len(dataset)
  for start in range(0, n, batch_size):
    idx = np.arange(start, start + batch_size)[process_index * per_host:(process_index + 1) * per_host]
    mask = idx < n
    idx = np.where(mask, idx, 0)
    shape = (num_devices, -1)
    yield {"image": dataset.images[idx].reshape(shape + dataset.images.shape[1:]),
           "label": dataset.labels[idx].reshape(shape),
           "mask": mask.reshape(shape)}
