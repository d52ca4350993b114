"""Deterministic, resumable batching: each host reads its contiguous slice of every global batch.

The data layer knows hosts, not devices: a host's ``[b_host, ...]`` arrays become the step's input at
the parallel boundary (:meth:`jaxtricks.parallel.DataParallel.shard`)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Iterator

import jax
import numpy as np

from jaxtricks.data.datasets import ArrayDataset
from jaxtricks.data.resampling import smote, undersample_indices
from jaxtricks.data.streaming import ImageDataset, prefetch


def _check_divisible(batch_size: int, process_count: int) -> None:
  if batch_size <= 0 or batch_size % process_count:
    raise ValueError(f"batch_size={batch_size} must be a positive multiple of the number of "
                     f"processes ({process_count})")


RESAMPLE = ("none", "oversample", "undersample", "smote")


@dataclasses.dataclass(frozen=True)
class TrainBatches:
  """Batch ``step`` of a run is a pure function of ``(seed, step)``.

  Epoch ``e`` visits the examples in the order ``default_rng([seed, e]).permutation(N)`` and drops the
  last incomplete batch, so a resumed run sees exactly the batches an uninterrupted one would. Each host
  (``jax.process_index()``) keeps its contiguous slice ``[batch_size / process_count, ...]`` of the
  global batch. Streamed images (:class:`~jaxtricks.data.streaming.ImageDataset`) are decoded ahead
  on the data set's Grain threads / workers, example ``j`` of the global batch ``step`` cropped with the
  seed ``(seed, step, j)``, so the pixels do not depend on the number of hosts either.

  From epoch ``resample_from_epoch`` on (deferred re-sampling; 0 = from the start) an epoch is instead
  ``N`` draws of a class-balanced stream: ``oversample`` draws with probability ``∝ 1/N_y`` (with
  replacement), ``undersample`` chains random class-balanced subsets of ``min_c N_c`` per class,
  ``smote`` samples without replacement from the data plus SMOTE points that balance every class.
  """

  dataset: ArrayDataset | ImageDataset
  batch_size: int
  seed: int
  process_index: int = 0
  process_count: int = 1
  resample: str = "none"
  resample_from_epoch: int = 0
  smote_k: int = 5
  _orders: dict = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)

  def __post_init__(self):
    _check_divisible(self.batch_size, self.process_count)
    if self.batch_size > len(self.dataset):
      raise ValueError(f"batch_size={self.batch_size} exceeds the {len(self.dataset)} training examples")
    if self.resample not in RESAMPLE:
      raise ValueError(f"dataset.resample must be one of {RESAMPLE}, got {self.resample!r}")
    if self.resample == "smote" and isinstance(self.dataset, ImageDataset):
      raise ValueError("dataset.resample='smote' interpolates images in memory; streamed images "
                       "take none, oversample or undersample")
    if self.resample == "smote" and self.dataset.extras:
      raise ValueError(f"dataset.resample='smote' interpolates images only; this data set also has "
                       f"{sorted(self.dataset.extras)}")

  @property
  def steps_per_epoch(self) -> int:
    return len(self.dataset) // self.batch_size

  @functools.cached_property
  def smote_pool(self) -> ArrayDataset:
    """The training set plus the SMOTE points that bring every class to the majority count."""
    images, labels = smote(self.dataset.images, self.dataset.labels, seed=self.seed,
                           k_neighbors=self.smote_k)
    return ArrayDataset(images, labels, self.dataset.num_classes)

  def _source(self, epoch: int) -> tuple[ArrayDataset, np.ndarray]:
    """(data set, order of its examples) of ``epoch``; the last few epochs are cached (safe on the
    prefetching threads: at worst an epoch is drawn twice, to the same result)."""
    drawn = self._orders.get(epoch)
    if drawn is None:
      drawn = self._draw(epoch)
      if len(self._orders) > 2:
        self._orders.clear()
      self._orders[epoch] = drawn
    return drawn

  def _draw(self, epoch: int) -> tuple[ArrayDataset, np.ndarray]:
    rng = np.random.default_rng([self.seed, epoch])
    labels = self.dataset.labels
    n, counts = len(labels), np.bincount(labels)
    if self.resample == "none" or epoch < self.resample_from_epoch:
      return self.dataset, rng.permutation(n)
    if self.resample == "oversample":
      weights = 1.0 / counts[labels]
      return self.dataset, rng.choice(n, n, p=weights / weights.sum())
    if self.resample == "undersample":
      per_pass = np.count_nonzero(counts) * counts[counts > 0].min()
      passes = [rng.permutation(undersample_indices(labels, seed=int(rng.integers(1 << 31))))
                for _ in range(-(-n // per_pass))]
      return self.dataset, np.concatenate(passes)[:n]
    return self.smote_pool, rng.choice(len(self.smote_pool), n, replace=False)

  def indices(self, step: int) -> np.ndarray:
    """Indices (into this step's source data set) of this host's share of batch ``step``."""
    return self._step(step)[1]

  def _host_slice(self) -> slice:
    per_host = self.batch_size // self.process_count
    return slice(self.process_index * per_host, (self.process_index + 1) * per_host)

  def _step(self, step: int) -> tuple[ArrayDataset, np.ndarray]:
    epoch, i = divmod(step, self.steps_per_epoch)
    source, order = self._source(epoch)
    return source, order[i * self.batch_size:(i + 1) * self.batch_size][self._host_slice()]

  def batch(self, step: int) -> dict[str, np.ndarray]:
    """This host's share of batch ``step``: ``{field: [b_host, ...]}``."""
    source, idx = self._step(step)
    positions = range(self.batch_size)[self._host_slice()]
    return source.training_fields(idx, [(self.seed, step, j) for j in positions])

  def iterate(self, start_step: int, stop_step: int) -> Iterator[dict[str, np.ndarray]]:
    """Batches ``start_step .. stop_step − 1``, decoded ahead by the data set's workers."""
    return prefetch(self.batch, range(start_step, stop_step), self.dataset.workers, self.dataset.threads)


@dataclasses.dataclass(frozen=True)
class JointBatches:
  """A labelled and an unlabelled stream stepped together (semi-supervised training): batch ``step``
  holds the labelled batch's fields and the unlabelled batch's as ``unlabelled_<field>``. Each stream
  cycles through its own epochs; ``steps_per_epoch`` is the run's nominal epoch."""

  labelled: TrainBatches
  unlabelled: TrainBatches | None
  steps_per_epoch: int

  @property
  def dataset(self) -> ArrayDataset:
    return self.labelled.dataset

  def batch(self, step: int) -> dict[str, np.ndarray]:
    out = self.labelled.batch(step)
    if self.unlabelled is not None:
      out.update({f"unlabelled_{k}": v for k, v in self.unlabelled.batch(step).items()})
    return out

  def iterate(self, start_step: int, stop_step: int) -> Iterator[dict[str, np.ndarray]]:
    return map(self.batch, range(start_step, stop_step))


def eval_batches(dataset: ArrayDataset | ImageDataset, batch_size: int, *, process_index: int = 0,
                 process_count: int = 1, num_batches: int | None = None) -> Iterator[dict[str, np.ndarray]]:
  """Every example once, in order (this host's slice of each global batch); the last batch is
  zero-padded and ``mask`` marks the real rows. ``num_batches``: only the first this many."""
  _check_divisible(batch_size, process_count)
  per_host = batch_size // process_count
  host = slice(process_index * per_host, (process_index + 1) * per_host)
  starts = range(0, len(dataset), batch_size)[:num_batches]
  return prefetch(functools.partial(_eval_batch, dataset, batch_size, host), starts, dataset.workers,
                  dataset.threads)


def _eval_batch(dataset, batch_size: int, host: slice, start: int) -> dict[str, np.ndarray]:
  idx = np.arange(start, start + batch_size)[host]
  mask = idx < len(dataset)
  return {**dataset.fields(np.where(mask, idx, 0)), "mask": mask}


def map_in_chunks(fn: Callable[[Any], Any], inputs: Any, *, chunk_size: int = 1024) -> Any:
  """``fn`` (jitted once) over ``inputs`` (a pytree of arrays with one leading length ``n``) in
  chunks of ``min(chunk_size, n)`` rows, the last one zero-padded; the outputs' leading axes are
  concatenated and trimmed to ``n``. Pass the row indices as an input where ``fn`` draws random
  numbers, so that each row's draws do not depend on the chunk size."""
  leaves = jax.tree.leaves(inputs)
  n = len(leaves[0])
  size = min(chunk_size, n)
  step = jax.jit(fn)
  chunks = []
  for start in range(0, n, size):
    def pad(a):
      part = np.asarray(a[start:start + size])
      return np.concatenate([part, np.zeros((size - len(part),) + part.shape[1:], part.dtype)])
    chunks.append(jax.device_get(step(jax.tree.map(pad, inputs))))
  return jax.tree.map(lambda *parts: np.concatenate(parts)[:n], *chunks)
