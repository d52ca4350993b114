"""Images/s of one training step: jaxtricks on the mesh path and on pmap, and PyTorch, in one process.

  pip install torch torchvision   # benchmark-only dependencies (torchvision for ResNet-50)
  python benchmarks/train_step.py                                  # ResNet-32, batch 128, 32×32, float32
  python benchmarks/train_step.py --model=resnet50 --dtype=bfloat16 --batch=256   # 224×224, a GPU/TPU
  python benchmarks/train_step.py --profile --steps=10             # where the mesh step's time goes

Every implementation trains the same network with SGD momentum 0.9, weight decay 2e-4 and softmax
cross-entropy on the same random batch: CIFAR ResNet-32 v1 (3×5 basic blocks of width 16/32/64,
projection shortcuts) or ImageNet ResNet-50 (torchvision's layout: ``ResNet(depth=50, width=64,
layout="imagenet", variant="b")``). jaxtricks runs the classification task's ``train_step`` through
``DataParallel("mesh")`` (state donated) and ``DataParallel("pmap")`` over every local device; the
batch is placed once, as a training input pipeline that prefetches would. PyTorch runs eagerly on the
same kind of device (CUDA if it has one; ``channels_last`` and bfloat16 autocast with
``--dtype=bfloat16``). The implementations run interleaved, round by round; the script prints each
one's median images/s, per chip, the ratios, and for jaxtricks XLA's FLOP count of the step with the
model FLOP utilisation against the chip's peak (the peak it assumed is printed; ``--peak_tflops``
sets it).
"""

import argparse
import collections
import glob
import gzip
import json
import re
import statistics
import tempfile
import time

import jax
import numpy as np

from jaxtricks.data import ArrayDataset, TrainBatches
from jaxtricks.models import ResNet
from jaxtricks.optim import create_optimizer, learning_rate_schedule
from jaxtricks.parallel import DataParallel
from jaxtricks.tasks import Classification, Net, Targets
from jaxtricks.tasks.base import DTYPES
from jaxtricks.training import base_config

# Dense bfloat16 TFLOP/s per chip (vendors' data sheets; SXM parts for NVIDIA), matched against
# jax.Device.device_kind in this order.
PEAK_TFLOPS = (("H200", 989.0), ("H100", 989.0), ("A100", 312.0), ("L4", 121.0), ("V100", 125.0),
               ("T4", 65.0), ("TPU v6 lite", 918.0), ("TPU v5 lite", 197.0), ("TPU v5", 459.0),
               ("TPU v4", 275.0), ("TPU v3", 123.0), ("TPU v2", 45.0))
MODELS = {"resnet32": dict(depth=32), "resnet50": dict(depth=50, width=64, layout="imagenet", variant="b")}


# ----------------------------------------------------------------------------- PyTorch peer
def torch_step_fn(model_name, images, labels, dtype):
  import torch
  from torch import nn

  class Block(nn.Module):
    def __init__(self, cin, cout, stride):
      super().__init__()
      self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
      self.bn1 = nn.BatchNorm2d(cout)
      self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
      self.bn2 = nn.BatchNorm2d(cout)
      self.shortcut = nn.Sequential()
      if stride != 1 or cin != cout:
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
      y = torch.relu(self.bn1(self.conv1(x)))
      return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

  def resnet32(num_classes=10, width=16, n=5):
    layers, cin = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()], width
    for stage in range(3):
      for i in range(n):
        layers.append(Block(cin, width * 2 ** stage, 2 if stage and i == 0 else 1))
        cin = width * 2 ** stage
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes))

  if model_name == "resnet50":
    import torchvision
    model = torchvision.models.resnet50(num_classes=10)
  else:
    model = resnet32()
  device = "cuda" if torch.cuda.is_available() else "cpu"
  memory_format = torch.channels_last if dtype == "bfloat16" else torch.contiguous_format
  model = model.to(device, memory_format=memory_format)
  opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
  x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).to(device, memory_format=memory_format)
  y = torch.from_numpy(labels.astype(np.int64)).to(device)
  loss_fn = nn.CrossEntropyLoss()

  def step():
    opt.zero_grad(set_to_none=True)
    with torch.autocast(device, torch.bfloat16, enabled=dtype == "bfloat16"):
      loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss

  def block(loss):
    loss.item()
  version = f"torch {torch.__version__} on {device}, {torch.get_num_threads()} threads"
  return step, block, version


# ----------------------------------------------------------------------------- jaxtricks
def jax_step_fn(model_name, images, labels, dtype, kind):
  """The classification task's step on ``DataParallel(kind)``: ``(step, compile_s, flops)``."""
  c = base_config()
  c.optim.update(lr=0.1, reference_batch=len(images), momentum=0.9, weight_decay=2e-4,
                 schedule="constant")
  model = ResNet(num_classes=10, axis_name="batch", dtype=DTYPES[dtype], **MODELS[model_name])
  schedule = learning_rate_schedule(c.optim, steps_per_epoch=1, num_epochs=1, global_batch=len(images))
  batches = TrainBatches(ArrayDataset(images, labels, 10), len(images), seed=0)
  net = Net(model=model, tx=create_optimizer(c.optim, schedule), schedule=schedule, batches=batches)
  task = Classification(net=net, targets=Targets(num_classes=10))
  parallel = DataParallel(kind)
  state = parallel.replicate(task.init(0))
  batch = parallel.shard(batches.batch(0))
  p_step = parallel.step(task.train_step, donate_state=kind == "mesh")
  t0 = time.perf_counter()
  cost = p_step.lower(state, batch).compile().cost_analysis()
  compile_s = time.perf_counter() - t0
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", float("nan"))) * parallel.device_count  # Reported per device.
  holder = {"state": state}

  def step():
    holder["state"], metrics = p_step(holder["state"], batch)
    return metrics
  jax.block_until_ready(step())  # Compiles and warms the dispatch cache.
  return step, compile_s, flops


KINDS = (("convolution", r"^(convolution|conv_general)"), ("YNNPACK fusion (dots/convs)", r"^ynn_"),
         ("transpose / copy", r"(transpose|copy)"), ("reduce", r"reduce"), ("other fusion", r"fusion"))


def profile(step, steps: int) -> None:
  """Traces ``steps`` calls of ``step`` and prints the time of XLA's operations by kind."""
  with tempfile.TemporaryDirectory() as logdir:
    with jax.profiler.trace(logdir, create_perfetto_trace=True):
      for _ in range(steps):
        jax.block_until_ready(step())
    path, = glob.glob(f"{logdir}/**/*.trace.json.gz", recursive=True)
    events = json.load(gzip.open(path))["traceEvents"]
  ops = collections.Counter()
  for e in events:  # XLA's operations are named like HLO instructions: "kind.N" or "kind".
    name = e.get("name", "")
    if e.get("ph") == "X" and re.fullmatch(r"[a-z_\-]+(\.\d+)?", name):
      ops[name.split(".")[0]] += e["dur"] / 1e3 / steps
  by_kind = collections.Counter()
  for name, ms in ops.items():
    kind = next((k for k, pattern in KINDS if re.search(pattern, name)), "other")
    by_kind[kind] += ms
  total = sum(by_kind.values())
  print("| XLA operations by kind | ms per step | share |\n|---|---|---|")
  for kind, ms in by_kind.most_common():
    print(f"| {kind} | {ms:.1f} | {100 * ms / total:.0f} % |")
  print(f"| total | {total:.1f} | |")
  print("largest operations:", ", ".join(f"{n} {ms:.1f} ms" for n, ms in ops.most_common(8)))


def timed(step, n, block):
  t0 = time.perf_counter()
  for _ in range(n):
    out = step()
  block(out)
  return time.perf_counter() - t0


def peak_tflops(device_kind: str, override: float | None) -> tuple[float | None, str]:
  if override:
    return override, "--peak_tflops"
  for name, tflops in PEAK_TFLOPS:
    if name.lower() in device_kind.lower():
      return tflops, f"dense bfloat16 peak of {name}"
  return None, f"no peak known for {device_kind!r}"


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model", choices=sorted(MODELS), default="resnet32")
  parser.add_argument("--image_size", type=int, default=None, help="32 (ResNet-32) | 224 (ResNet-50)")
  parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
  parser.add_argument("--batch", type=int, default=128, help="Global batch.")
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--implementations", default="mesh,pmap,torch",
                      help="Comma-separated subset of mesh, pmap, torch.")
  parser.add_argument("--peak_tflops", type=float, default=None, help="Per chip; default: a table.")
  parser.add_argument("--profile", action="store_true", help="Trace the mesh step only.")
  args = parser.parse_args()
  size = args.image_size or (224 if args.model == "resnet50" else 32)
  chosen = args.implementations.split(",")
  if unknown := set(chosen) - {"mesh", "pmap", "torch"}:
    parser.error(f"--implementations: unknown {sorted(unknown)}; allowed: mesh, pmap, torch")

  rng = np.random.default_rng(0)
  images = rng.standard_normal((args.batch, size, size, 3)).astype(np.float32)
  labels = rng.integers(0, 10, args.batch).astype(np.int32)
  steps, flops, notes = {}, {}, []
  for kind in ("mesh", "pmap"):
    if kind in chosen or (args.profile and kind == "mesh"):
      step, compile_s, flops[kind] = jax_step_fn(args.model, images, labels, args.dtype, kind)
      steps[kind] = (step, jax.block_until_ready)
      notes.append(f"compile time of the {kind} step: {compile_s:.1f} s")
  if args.profile:
    return profile(steps["mesh"][0], args.steps)
  torch_version = ""
  if "torch" in chosen:
    step, block, torch_version = torch_step_fn(args.model, images, labels, args.dtype)
    block(step())  # Warm-up.
    steps["torch"] = (step, block)

  ips = {name: [] for name in steps}
  for _ in range(args.rounds):
    for name, (step, block) in steps.items():
      ips[name].append(args.steps * args.batch / timed(step, args.steps, block))
  median = {name: statistics.median(v) for name, v in ips.items()}

  devices = jax.local_devices()
  chips = len(devices) * jax.process_count()
  peak, source = peak_tflops(devices[0].device_kind, args.peak_tflops)
  print(f"device: {devices[0].device_kind} ×{chips} (jax {jax.__version__}"
        + (f"; {torch_version}" if torch_version else "") + ")")
  print(f"{args.model}, {size}×{size}×3, global batch {args.batch}, {args.dtype} compute; "
        f"peak assumed: {f'{peak:.0f} TFLOP/s per chip' if peak else 'none'} ({source})")
  print(f"| implementation | images/s (median of {args.rounds}×{args.steps} steps) | per chip | "
        f"TFLOP/s per chip | MFU |")
  print("|---|---|---|---|---|")
  names = {"mesh": "jaxtricks, mesh (jit + shard_map)", "pmap": "jaxtricks, pmap", "torch": "PyTorch eager"}
  for name, value in median.items():
    per_chip = value / (chips if name != "torch" else 1)
    achieved = flops[name] * value / args.batch / chips / 1e12 if name in flops else float("nan")
    mfu = f"{100 * achieved / peak:.1f} %" if peak and name in flops else "n/a"
    tflops = f"{achieved:.2f}" if name in flops else "n/a"
    print(f"| {names[name]} | {value:.0f} | {per_chip:.0f} | {tflops} | {mfu} |")
  for a, b in (("mesh", "pmap"), ("mesh", "torch"), ("pmap", "torch")):
    if a in median and b in median:
      print(f"ratio {a} / {b}: {median[a] / median[b]:.3f}")
  for name in flops:
    print(f"XLA cost analysis, {name} step: {flops[name] / 1e9:.1f} GFLOP per step (all chips)")
  print("\n".join(notes))


if __name__ == "__main__":
  main()
