"""Streaming ImageNet-style training input: jaxtricks (Grain workers, decode-and-crop) vs torchvision's
``ImageFolder`` + ``DataLoader`` and ``tf.data``, on the same generated JPEG folder.

  pip install torch torchvision tensorflow-cpu psutil   # benchmark-only dependencies
  python benchmarks/input_pipeline.py --images=2000 --workers=2 --rounds=5
  python benchmarks/input_pipeline.py --memory --images=2000,20000   # peak RSS of one epoch

Every pipeline reads ``--images`` JPEGs of about 400 × 350 pixels (digits with texture, ~20–30 kB,
``jaxtricks.data.digit_folder``), takes a random-resized crop (area 8–100 %, ratio 3/4–4/3) resized to
224 × 224 and a random flip, and delivers uint8 batches of ``--batch`` with ``--workers`` worker
processes:

* jaxtricks: ``TrainBatches`` over an ``ImageFolder`` ``ImageDataset`` (OpenCV: a JPEG decoded at the
  smallest DCT scale the crop allows, the window resampled), batches decoded ahead by Grain either on
  ``--workers`` threads of the main process (``dataset.workers=0, threads=W``) or in ``--workers``
  worker processes of one thread each (``dataset.workers=W, threads=1``);
* torchvision, PIL: ``datasets.ImageFolder`` with ``RandomResizedCrop(224)``, ``RandomHorizontalFlip``,
  ``PILToTensor`` in a ``DataLoader`` (shuffled, persistent workers, one torch thread each);
* torchvision, decode_jpeg: the same with ``torchvision.io.decode_jpeg`` on the file's bytes and the
  v2 transforms on uint8 tensors;
* tf.data: ``tf.image.sample_distorted_bounding_box`` + ``decode_and_crop_jpeg`` (decodes only the
  window), resize, flip, ``num_parallel_calls=--workers``, if TensorFlow is installed.

Each round times one epoch of every pipeline in turn (interleaved) after its first ``workers + 1``
batches (worker start and warm-up excluded); medians of images/s and the ratio to the faster
torchvision variant are printed.
``--memory`` runs one jaxtricks epoch (``--workers`` threads) per folder size in a fresh process and
prints its peak resident memory.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from jaxtricks.data import ImageDataset, ImageFolder, TrainBatches
from jaxtricks.data.digit_folder import digit_folder

SIZE = 224


def folder(images: int) -> Path:
  """``images`` training JPEGs of 350–450 px sides in 10 classes (generated once, then reused)."""
  per_class = images // 10
  return digit_folder(f"bench-{images}", per_class={"train": per_class}, sizes=(350, 450),
                      formats=("jpg",), noise=12.0) / "train"


def jaxtricks_epoch(root: Path, batch: int, workers: int, seed: int, threads: int = 1):
  dataset = ImageDataset(ImageFolder(root), 10, image_size=SIZE, eval_resize=256, workers=workers,
                         threads=threads)
  batches = TrainBatches(dataset, batch, seed=seed)
  return batches.iterate(0, batches.steps_per_epoch)


def torch_epoch(root: Path, batch: int, workers: int, seed: int, decoder: str):
  import torch
  from torchvision import datasets, io, transforms
  from torchvision.transforms import v2

  torch.manual_seed(seed)
  if decoder == "pil":
    transform = transforms.Compose([transforms.RandomResizedCrop(SIZE), transforms.RandomHorizontalFlip(),
                                    transforms.PILToTensor()])
    data = datasets.ImageFolder(str(root), transform=transform)
  else:
    crop = v2.Compose([v2.RandomResizedCrop(SIZE, antialias=True), v2.RandomHorizontalFlip()])
    data = datasets.ImageFolder(str(root), loader=lambda path: io.decode_jpeg(io.read_file(path)),
                                transform=crop)
  loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers,
                                       drop_last=True, worker_init_fn=lambda _: torch.set_num_threads(1))
  return iter(loader)


def tf_epoch(root: Path, batch: int, workers: int, seed: int):
  import tensorflow as tf

  paths = sorted(str(p) for p in root.glob("*/*.jpg"))
  tf.random.set_seed(seed)

  def load(path):
    encoded = tf.io.read_file(path)
    shape = tf.image.extract_jpeg_shape(encoded)
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        shape, tf.zeros([0, 0, 4]), area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3),
        max_attempts=10, use_image_if_no_bounding_boxes=True)
    window = tf.stack([begin[0], begin[1], size[0], size[1]])
    image = tf.image.decode_and_crop_jpeg(encoded, window, channels=3)
    image = tf.image.resize(image, (SIZE, SIZE))
    return tf.cast(tf.image.random_flip_left_right(image), tf.uint8)

  data = tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths), seed=seed)
  data = data.map(load, num_parallel_calls=workers).batch(batch, drop_remainder=True).prefetch(2)
  return iter(data)


def timed_epoch(make, warmup: int) -> float:
  """Images/s of one epoch after its first ``warmup`` batches (every worker started)."""
  batches = make()
  for _ in range(warmup):
    next(batches)
  count, start = 0, time.perf_counter()
  for b in batches:
    images = b["image"] if isinstance(b, dict) else b[0] if isinstance(b, (list, tuple)) else b
    count += len(images)
  return count / (time.perf_counter() - start)


def compare(args) -> None:
  import torchvision  # noqa: F401 - before TensorFlow: imported after it, torchvision crashes.
  root = folder(args.images)
  pipelines = {"jaxtricks_threads": lambda s: jaxtricks_epoch(root, args.batch, 0, s, args.workers),
               "jaxtricks_processes": lambda s: jaxtricks_epoch(root, args.batch, args.workers, s),
               "torch_pil": lambda s: torch_epoch(root, args.batch, args.workers, s, "pil"),
               "torch_decode_jpeg": lambda s: torch_epoch(root, args.batch, args.workers, s, "decode_jpeg")}
  try:
    import tensorflow  # noqa: F401
    pipelines["tf_data"] = lambda s: tf_epoch(root, args.batch, args.workers, s)
  except ImportError:
    print("tf.data: TensorFlow is not installed, skipped")
  rates = {name: [] for name in pipelines}
  for r in range(args.rounds):
    for name, make in pipelines.items():
      rates[name].append(timed_epoch(lambda: make(r), warmup=args.workers + 1))
    print(f"round {r}: " + ", ".join(f"{n} {v[-1]:.0f}" for n, v in rates.items()), flush=True)
  medians = {name: statistics.median(v) for name, v in rates.items()}
  torch_best = max(medians["torch_pil"], medians["torch_decode_jpeg"])
  print(f"{args.images} JPEGs, batch {args.batch}, {args.workers} workers, {args.rounds} rounds; "
        "median images/s (ratio to the faster torchvision):")
  for name, value in medians.items():
    print(f"  {name:18s} {value:7.0f}  {value / torch_best:.2f}x")


def peak_rss(images: int, args) -> float:
  """Peak resident memory (MiB) of a fresh process, and its workers, streaming one epoch."""
  import psutil
  root = folder(images)
  code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r}); "
          f"from benchmarks.input_pipeline import jaxtricks_epoch; from pathlib import Path; "
          f"[None for _ in jaxtricks_epoch(Path({str(root)!r}), {args.batch}, 0, 0, {args.workers})]")
  process = psutil.Popen([sys.executable, "-c", code])
  peak = 0.0
  while process.poll() is None:
    try:
      tree = [process] + process.children(recursive=True)
      peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
    except psutil.Error:
      pass
    time.sleep(0.05)
  if process.returncode:
    raise RuntimeError(f"the streaming process exited with {process.returncode}")
  return peak / 2 ** 20


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--images", default="2000", help="JPEGs in the folder (--memory: a list)")
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--memory", action="store_true", help="peak RSS of one epoch per folder size")
  args = parser.parse_args()
  if args.memory:
    sizes = [int(n) for n in args.images.split(",")]
    peaks = {n: peak_rss(n, args) for n in sizes}
    for n, mib in peaks.items():
      print(f"{n:6d} images: peak RSS {mib:7.0f} MiB ({mib / peaks[sizes[0]]:.2f}x the first)")
    return
  args.images = int(args.images)
  compare(args)


if __name__ == "__main__":
  main()
