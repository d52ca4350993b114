"""Writes an image folder (``FOLDER/<class>/<image>``) as ArrayRecord shards that
``dataset.source="array_record"`` streams: a few large files instead of a million small ones.

  python -m jaxtricks.data.prepare --from=~/imagenet/train --to=~/imagenet_ar/train
  python -m jaxtricks.data.prepare --from=~/imagenet/val --to=~/imagenet_ar/val

Each record holds one image as its file's bytes (not decoded again), its label and its file name;
``jaxtricks_images.json`` lists the shards, the class names (sorted, as the folder source sorts them)
and every label, so that a run knows its class counts without reading the shards. No TensorFlow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tqdm
from absl import app, flags

from jaxtricks.data.streaming import META_FILE, ImageFolder, encode_record

SHARD_BYTES = 1 << 30  # About 1 GiB of images per shard.


def prepare(source: str | os.PathLike, destination: str | os.PathLike, *, shards: int = 0,
            progress: bool = True) -> Path:
  """Writes the folder ``source`` into ``destination`` (``shards`` files; 0: about 1 GiB each);
  returns the metadata file."""
  from array_record.python.array_record_module import ArrayRecordWriter

  folder = ImageFolder(source)
  destination = Path(destination).expanduser()
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


_FROM = flags.DEFINE_string("from", None, "The image folder: FOLDER/<class>/<image> (JPEG, PNG, WebP).")
_TO = flags.DEFINE_string("to", None, "The directory to write the shards into (created).")
_SHARDS = flags.DEFINE_integer("shards", 0, "Number of shards; 0: about 1 GiB each.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not _FROM.value or not _TO.value:
    raise app.UsageError("give both --from=FOLDER and --to=DIR")
  try:
    meta = prepare(_FROM.value, _TO.value, shards=_SHARDS.value)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(f"wrote {meta.parent} ({len(json.loads(meta.read_text())['labels'])} images)")


if __name__ == "__main__":
  app.run(main)
