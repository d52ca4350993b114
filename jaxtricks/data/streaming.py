"""Image data sets larger than memory: labels are held, pixels are read and decoded per batch.

Sources (random access, picklable, so that Grain's worker processes can read them):
:class:`ImageFolder` (``root/<class>/<image>``, as torchvision's ``ImageFolder``), :class:`ArrayRecordImages`
(shards written by ``python -m jaxtricks.data.prepare``) and :class:`TfdsImages` (``tfds.data_source``
on an ArrayRecord build). :class:`ImageDataset` puts a source behind the interface of the in-memory
:class:`~jaxtricks.data.datasets.ArrayDataset` (labels, subsets, class selection, ``fields``), so that
long-tail subsetting and class-balanced re-sampling (index-level) work unchanged.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import os
import socket
import struct
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np

from jaxtricks.data.datasets import class_relabelling
from jaxtricks.data.images import BadImageError, decode_crop
from jaxtricks.paths import as_path, local_path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class ImageSource(Protocol):
  classes: tuple[str, ...]  # Class names; label i is classes[i].

  @property
  def labels(self) -> np.ndarray:
    """``[N]`` int32 labels."""

  def __len__(self) -> int:
    ...

  def read(self, index: int) -> bytes:
    """The encoded image ``index``."""

  def name(self, index: int) -> str:
    """What names image ``index`` in an error message (its file)."""


def _class_index(classes: Sequence[str], names: Iterable[str], where: str) -> np.ndarray:
  index = {c: i for i, c in enumerate(classes)}
  unknown = sorted(set(names) - set(index))
  if unknown:
    raise ValueError(f"{where} has classes {unknown[:5]} that the training split does not have")
  return np.asarray([index[n] for n in names], np.int32)


class ImageFolder:
  """``root/<class>/<image>`` (JPEG, PNG or WebP); classes sorted by name, images by path.

  ``classes`` (the training split's) fixes the label of each class name for another split."""

  def __init__(self, root: str | Path, classes: Sequence[str] | None = None):
    self.root = local_path(root, "image folder")
    if not self.root.is_dir():
      raise ValueError(f"image folder {str(self.root)!r} is not a directory")
    folders = sorted(p for p in self.root.iterdir() if p.is_dir())
    self.paths = [str(f) for folder in folders for f in sorted(folder.iterdir())
                  if f.suffix.lower() in IMAGE_SUFFIXES]
    if not self.paths:
      raise ValueError(f"{str(self.root)!r} holds no <class>/<image> files ({', '.join(IMAGE_SUFFIXES)})")
    self.classes = tuple(classes) if classes is not None else tuple(f.name for f in folders)
    self._labels = _class_index(self.classes, [Path(p).parent.name for p in self.paths], str(self.root))

  @property
  def labels(self) -> np.ndarray:
    return self._labels

  def __len__(self) -> int:
    return len(self.paths)

  def read(self, index: int) -> bytes:
    with open(self.paths[index], "rb") as f:
      return f.read()

  def name(self, index: int) -> str:
    return self.paths[index]


RECORD_HEADER = struct.Struct("<iH")  # label, length of the name; then the name (UTF-8), then the image.
META_FILE = "jaxtricks_images.json"


def encode_record(label: int, name: str, image: bytes) -> bytes:
  encoded = name.encode()
  return RECORD_HEADER.pack(label, len(encoded)) + encoded + image


def decode_record(record: bytes) -> tuple[int, str, bytes]:
  label, length = RECORD_HEADER.unpack_from(record)
  start = RECORD_HEADER.size
  return label, record[start:start + length].decode(), record[start + length:]


class ArrayRecordImages:
  """A split written by ``python -m jaxtricks.data.prepare``: ArrayRecord shards of
  ``(label, file name, encoded image)`` records and ``jaxtricks_images.json`` (classes, labels)."""

  def __init__(self, directory: str | Path, classes: Sequence[str] | None = None):
    self.directory = local_path(directory, "ArrayRecord directory")
    meta_file = self.directory / META_FILE
    if not meta_file.is_file():
      raise ValueError(f"{str(self.directory)!r} holds no {META_FILE}; write it with "
                       f"python -m jaxtricks.data.prepare --from=FOLDER --to={self.directory}")
    meta = json.loads(meta_file.read_text())
    self.shards = [str(self.directory / s) for s in meta["shards"]]
    own = tuple(meta["classes"])
    self.classes = tuple(classes) if classes is not None else own
    self._labels = _class_index(self.classes, [own[i] for i in meta["labels"]], str(self.directory))

  @functools.cached_property
  def _reader(self):
    import grain
    return grain.sources.ArrayRecordDataSource(self.shards)

  def __getstate__(self):  # The reader is opened again in each worker process.
    return {k: v for k, v in self.__dict__.items() if k != "_reader"}

  @property
  def labels(self) -> np.ndarray:
    return self._labels

  def __len__(self) -> int:
    return len(self._labels)

  def read(self, index: int) -> bytes:
    return decode_record(self._reader[index])[2]

  def name(self, index: int) -> str:
    return f"{decode_record(self._reader[index])[1]} (record {index} of {self.directory})"


SHARD_BYTES = 1 << 30  # About 1 GiB of images per shard.


def write_array_record(source: str | os.PathLike, destination: str | os.PathLike, *, shards: int = 0,
                       progress: bool = True) -> Path:
  """Writes the image folder ``source`` as the ArrayRecord split ``destination`` that
  :class:`ArrayRecordImages` reads (``shards`` files; 0: about 1 GiB each; ``python -m
  jaxtricks.data.prepare``); returns the metadata file."""
  import tqdm
  from array_record.python.array_record_module import ArrayRecordWriter

  folder = ImageFolder(source)
  destination = local_path(destination, "destination")
  destination.mkdir(parents=True, exist_ok=True)
  if shards <= 0:
    total = sum(os.path.getsize(p) for p in folder.paths)
    shards = max(1, min(len(folder), -(-total // SHARD_BYTES)))
  names = [f"data-{i:05d}-of-{shards:05d}.array_record" for i in range(shards)]
  bounds = [len(folder) * i // shards for i in range(shards + 1)]
  bar = tqdm.tqdm(total=len(folder), unit="image", desc=f"{folder.root} → {destination}",
                  disable=not progress)
  for name, start, stop in zip(names, bounds, bounds[1:]):
    writer = ArrayRecordWriter(str(destination / name), "group_size:1")  # Random access per record.
    for i in range(start, stop):
      writer.write(encode_record(int(folder.labels[i]), os.path.relpath(folder.paths[i], folder.root),
                                 folder.read(i)))
      bar.update(1)
    writer.close()
  bar.close()
  meta = destination / META_FILE
  meta.write_text(json.dumps({"classes": list(folder.classes), "shards": names,
                              "labels": folder.labels.tolist()}))
  return meta


def check_array_record(builder, name: str) -> None:
  """``tfds.data_source`` reads ArrayRecord builds only: a ``ValueError`` saying how to rebuild."""
  file_format = getattr(builder.info.file_format, "value", builder.info.file_format)
  if file_format != "array_record":
    raise ValueError(f"TFDS data set {name!r} in {builder.data_dir} is stored as {file_format}; "
                     f"jaxtricks reads ArrayRecord: rebuild it with "
                     f"`tfds build {name} --file_format=array_record`")


class TfdsImages:
  """A TFDS split read record by record through ``tfds.data_source`` (no TensorFlow), the image left
  encoded; needs a build in ArrayRecord format. Labels are read once, on threads, when first needed,
  and kept beside the build (``<split>.<label_key>.npy`` in its versioned directory): a later start,
  on any host, reads that file instead of every record of the split."""

  def __init__(self, name: str, *, split: str, data_dir: str | None = None, image_key: str = "image",
               label_key: str = "label"):
    import tensorflow_datasets as tfds
    builder = tfds.builder(name, data_dir=data_dir)
    features = builder.info.features
    if image_key not in features or label_key not in features:
      raise ValueError(f"TFDS data set {name!r} has features {list(features)}; expected "
                       f"image_key={image_key!r} and label_key={label_key!r}")
    check_array_record(builder, name)
    self.classes = tuple(features[label_key].names)
    self.spec = dict(name=name, split=split, data_dir=data_dir,
                     decoders={image_key: tfds.decode.SkipDecoding()})
    self.image_key, self.label_key = image_key, label_key
    self.length = builder.info.splits[split].num_examples
    safe_split = "".join(c if c.isalnum() or c in "-_" else "_" for c in split)
    self.labels_file = str(builder.data_path / f"{safe_split}.{label_key}.npy")

  @functools.cached_property
  def _source(self):
    import tensorflow_datasets as tfds
    return tfds.data_source(**self.spec)

  def __getstate__(self):
    return {k: v for k, v in self.__dict__.items() if k != "_source"}

  @functools.cached_property
  def labels(self) -> np.ndarray:
    cached = as_path(self.labels_file)
    if cached.exists():
      with cached.open("rb") as f:
        labels = np.load(f)
      if labels.shape == (self.length,):
        return labels
    labels = self._read_labels()
    try:  # Written whole, then renamed: a reader never sees half a file.
      partial = as_path(f"{self.labels_file}.{socket.gethostname()}-{os.getpid()}.tmp")
      with partial.open("wb") as f:
        np.save(f, labels)
      partial.rename(cached)
    except OSError as e:  # A read-only build: every start reads the labels again.
      warnings.warn(f"cannot keep the labels of {self.spec['name']}:{self.spec['split']} in "
                    f"{self.labels_file} ({e}); the next start reads them again")
    return labels

  def _read_labels(self, chunk: int = 4096, threads: int = 16) -> np.ndarray:
    import tqdm
    starts = range(0, self.length, chunk)
    read = lambda start: [self._source[i][self.label_key]  # noqa: E731
                          for i in range(start, min(start + chunk, self.length))]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
      parts = list(tqdm.tqdm(pool.map(read, starts), total=len(starts), disable=self.length < 10_000,
                             desc=f"labels of {self.spec['name']}:{self.spec['split']}"))
    return np.asarray([label for part in parts for label in part], np.int32)

  def __len__(self) -> int:
    return self.length

  def read(self, index: int) -> bytes:
    return self._source[index][self.image_key]

  def name(self, index: int) -> str:
    return f"record {index} of TFDS {self.spec['name']}:{self.spec['split']}"


@dataclasses.dataclass(frozen=True, eq=False)
class ImageDataset:
  """Examples ``rows`` of an :class:`ImageSource` (all by default), relabelled by ``relabel``. ``fields``
  decodes the evaluation crop (shorter side ``eval_resize``, centre ``image_size``); ``training_fields`` a
  random-resized crop of ``crop_scale`` / ``crop_ratio`` (and ``flip``), each example from its own seed.
  Images are uint8 ``[n, image_size, image_size, 3]``. A file that cannot be decoded stops the run with its
  name; with ``skip_bad_files`` the next good example takes its place and its name is appended to a file of
  its host and process in the directory ``bad_file_log``. Batches are decoded ahead (:func:`prefetch`) by
  ``workers`` Grain worker processes (0: this process), each decoding ``threads`` batches at a time."""

  source: ImageSource
  num_classes: int
  image_size: int = 224
  eval_resize: int = 256
  crop_scale: tuple[float, float] = (0.08, 1.0)
  crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
  flip: bool = True
  workers: int = 0
  threads: int = 0
  skip_bad_files: bool = False
  bad_file_log: str | None = None
  rows: np.ndarray | None = None
  relabel: np.ndarray | None = None

  def __post_init__(self):
    if not (0 < self.image_size <= self.eval_resize):
      raise ValueError(f"dataset.image_size={self.image_size} must be in (0, dataset.eval_resize="
                       f"{self.eval_resize}]")
    for key in ("workers", "threads"):
      if getattr(self, key) < 0:
        raise ValueError(f"dataset.{key} must be >= 0, got {getattr(self, key)}")

  @functools.cached_property
  def _source_rows(self) -> np.ndarray:
    return np.arange(len(self.source)) if self.rows is None else self.rows

  @functools.cached_property
  def labels(self) -> np.ndarray:
    labels = self.source.labels[self._source_rows]
    return labels if self.relabel is None else self.relabel[labels].astype(np.int32)

  def __len__(self) -> int:
    return len(self._source_rows)

  def class_counts(self) -> np.ndarray:
    return np.bincount(self.labels, minlength=self.num_classes)

  def subset(self, indices: np.ndarray) -> "ImageDataset":
    return dataclasses.replace(self, rows=self._source_rows[np.asarray(indices, np.int64)])

  def select_classes(self, classes) -> "ImageDataset":
    """The examples of ``classes`` only, relabelled ``0..len(classes)−1`` in the order given."""
    relabel = class_relabelling(classes, self.num_classes)
    subset = self.subset(np.flatnonzero(relabel[self.labels] >= 0))
    composed = relabel if self.relabel is None else relabel[self.relabel]
    return dataclasses.replace(subset, relabel=composed, num_classes=len(classes))

  def fields(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    """The evaluation crops and labels of the examples ``indices``."""
    return self._load(indices, [None] * len(indices))

  def training_fields(self, indices: np.ndarray, seeds: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """Random-resized crops (and flips) of the examples ``indices``, example j drawn from
    ``np.random.default_rng(seeds[j])``."""
    return self._load(indices, [np.random.default_rng(s) for s in seeds])

  def _load(self, indices, rngs) -> dict[str, np.ndarray]:
    images = np.empty((len(indices), self.image_size, self.image_size, 3), np.uint8)
    labels = np.empty(len(indices), np.int32)
    for j, (i, rng) in enumerate(zip(np.asarray(indices), rngs)):
      i = self._decodable(int(i), lambda row: self._decode(row, rng, images[j]))
      labels[j] = self.labels[i]
    return {"image": images, "label": labels}

  def _decode(self, i: int, rng, out: np.ndarray) -> None:
    row = int(self._source_rows[i])
    out[...] = decode_crop(self.source.read(row), size=self.image_size, rng=rng, scale=self.crop_scale,
                           ratio=self.crop_ratio, flip=self.flip, resize=self.eval_resize)

  def _decodable(self, i: int, decode) -> int:
    """``i``, or with ``skip_bad_files`` the first example after it that decodes."""
    for tried in range(len(self)):
      row = (i + tried) % len(self)
      try:
        decode(row)
        return row
      except (BadImageError, OSError) as e:
        name = self.source.name(int(self._source_rows[row]))
        if not self.skip_bad_files:
          raise BadImageError(f"cannot decode image {name}: {e} (set dataset.skip_bad_files=True to "
                              f"skip such files)") from None
        if self.bad_file_log:  # A file per host and process: Grain workers and hosts never share one.
          log = as_path(self.bad_file_log)
          log.mkdir(parents=True, exist_ok=True)
          with (log / f"{socket.gethostname()}-{os.getpid()}.txt").open("a") as f:
            f.write(name + "\n")
    raise BadImageError(f"no image of the {len(self)} in the data set can be decoded")

  def skipped_files(self) -> list[str]:
    """The distinct files skipped so far by any process (``bad_file_log``, a directory of one list per
    host and process)."""
    log = as_path(self.bad_file_log) if self.bad_file_log else None
    if not (log and log.exists()):
      return []
    return sorted({name for part in log.glob("*.txt") for name in part.read_text().split("\n")} - {""})


def prefetch(load, items: Sequence, workers: int = 0, threads: int = 0) -> Iterator:
  """``load(item)`` for each of ``items`` in order, computed ahead by Grain: in ``workers`` worker
  processes (0: this one), each running ``threads`` items at a time on threads (OpenCV's decoding and
  resampling release the GIL). Both 0: computed here when asked for."""
  if workers == 0 and threads == 0:
    return map(load, items)
  import grain
  from absl import flags
  if not flags.FLAGS.is_parsed():  # Grain reads its absl flags; a library caller may have parsed none.
    flags.FLAGS.mark_as_parsed()
  threads = max(threads, 1)
  dataset = grain.MapDataset.source(items).map(load).to_iter_dataset(
      grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2 * threads))
  if workers:
    dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers,
                                                               per_worker_buffer_size=2))
  return iter(dataset)
