"""Writes an image folder (``FOLDER/<class>/<image>``) as ArrayRecord shards that
``dataset.source="array_record"`` streams: a few large files instead of a million small ones.

  python -m jaxtricks.data.prepare --from=~/imagenet/train --to=~/imagenet_ar/train
  python -m jaxtricks.data.prepare --from=~/imagenet/val --to=~/imagenet_ar/val

Each record holds one image as its file's bytes (not decoded again), its label and its file name;
``jaxtricks_images.json`` lists the shards, the class names (sorted, as the folder source sorts them)
and every label, so that a run knows its class counts without reading the shards. No TensorFlow.
"""

import json

from absl import app, flags

from jaxtricks.data.streaming import write_array_record

_FROM = flags.DEFINE_string("from", None, "The image folder: FOLDER/<class>/<image> (JPEG, PNG, WebP).")
_TO = flags.DEFINE_string("to", None, "The directory to write the shards into (created).")
_SHARDS = flags.DEFINE_integer("shards", 0, "Number of shards; 0: about 1 GiB each.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not _FROM.value or not _TO.value:
    raise app.UsageError("give both --from=FOLDER and --to=DIR")
  try:
    meta = write_array_record(_FROM.value, _TO.value, shards=_SHARDS.value)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(f"wrote {meta.parent} ({len(json.loads(meta.read_text())['labels'])} images)")


if __name__ == "__main__":
  app.run(main)
