"""RandAugment on a batch of 32×32 images: jaxtricks on device vs torchvision v2 in DataLoader workers.

  pip install torch torchvision   # benchmark-only dependencies
  python benchmarks/augment.py --batch=256 --rounds=9 --workers=2

jaxtricks: ``randaugment`` (N = 2, bin 9 of 31, an op per example) jitted on the whole uint8 batch on
the default device, a fresh key each call. torchvision: ``transforms.v2.RandAugment()`` applied image
by image in a ``Dataset.__getitem__``, as a training pipeline does, through a ``DataLoader`` with
``--workers`` persistent worker processes (one torch thread each), each collating ``batch/workers``
images; one timed call = the whole batch. Both run interleaved in one process, round by round;
medians and their ratio are printed. The op semantics are the same (bitwise on the golden cases,
tests/data/test_randaugment.py); the per-example op choice differs in kind (torchvision draws one op
per call, here per image, so the call covers every image).
"""

import argparse
import statistics
import time

import jax
import numpy as np

from jaxtricks.data.randaugment import randaugment


def _torchvision_v2():
  """``torchvision.transforms.v2``; the CPU wheel's C ops do not load next to torch+cpu, so their two
  schemas are declared first (RandAugment uses neither)."""
  import torch
  global _SCHEMAS
  if "_SCHEMAS" not in globals():
    _SCHEMAS = torch.library.Library("torchvision", "DEF")
    _SCHEMAS.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _SCHEMAS.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
  from torchvision.transforms import v2
  return v2


class TorchImages:
  """A map-style data set whose ``__getitem__`` applies ``v2.RandAugment()`` to one CHW uint8 image."""

  def __init__(self, images: np.ndarray):
    self.images = images
    self.augment = None

  def __len__(self):
    return len(self.images)

  def __getitem__(self, i):
    import torch
    if self.augment is None:
      self.augment = _torchvision_v2().RandAugment()
    return self.augment(torch.from_numpy(self.images[i]).permute(2, 0, 1))


def _one_thread(_):
  import torch
  torch.set_num_threads(1)


def torch_loader(images: np.ndarray, workers: int):
  import torch
  return torch.utils.data.DataLoader(
      TorchImages(images), batch_size=len(images) // workers, num_workers=workers,
      persistent_workers=True, worker_init_fn=_one_thread, multiprocessing_context="spawn")


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--size", type=int, default=32)
  parser.add_argument("--rounds", type=int, default=9)
  parser.add_argument("--calls", type=int, default=10, help="timed calls per round and side")
  parser.add_argument("--workers", type=int, default=2)
  args = parser.parse_args()

  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (args.batch, args.size, args.size, 3), dtype=np.uint8)
  loader = torch_loader(images, args.workers)
  device_images = jax.device_put(images)
  augment = jax.jit(lambda k, x: randaugment(k, x, num_ops=2, magnitude=9))
  key = jax.random.key(0)

  def run_jax(i):
    return augment(jax.random.fold_in(key, i), device_images).block_until_ready()

  def run_torch(_):
    return [batch for batch in loader]

  t0 = time.perf_counter()
  out = run_jax(0)
  print(f"jaxtricks compile + first call: {time.perf_counter() - t0:.2f} s")
  peer = run_torch(0)
  assert out.shape == images.shape and out.dtype == np.uint8
  assert sum(len(b) for b in peer) == args.batch and peer[0].dtype.__str__() == "torch.uint8"

  times = {"jaxtricks": [], "torchvision": []}
  for r in range(args.rounds):
    for name, fn in (("jaxtricks", run_jax), ("torchvision", run_torch)):
      t0 = time.perf_counter()
      for c in range(args.calls):
        fn(r * args.calls + c + 1)
      times[name].append((time.perf_counter() - t0) / args.calls)
  med = {k: statistics.median(v) for k, v in times.items()}
  print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}); batch {args.batch} "
        f"x {args.size}x{args.size}x3 uint8; torchvision in {args.workers} DataLoader workers")
  for name, t in med.items():
    print(f"{name:12s} {t * 1e3:8.2f} ms per batch  ({args.batch / t:9.0f} images/s)")
  print(f"speed-up jaxtricks / torchvision: {med['torchvision'] / med['jaxtricks']:.2f}x")


if __name__ == "__main__":
  main()
