"""Images/s of one ResNet-32 training step (global batch 128, 32×32×3): jaxtricks vs PyTorch eager.

  pip install torch   # benchmark-only dependency
  python benchmarks/train_step.py --rounds=7 --steps=10 --parallel=pmap
  python benchmarks/train_step.py --rounds=7 --steps=10 --parallel=jit      # donates the state
  python benchmarks/train_step.py --profile --steps=10                      # where the time goes

Both sides train the same network (CIFAR ResNet-32 v1: 3×5 basic blocks of width 16/32/64, projection
shortcuts, BatchNorm, ReLU) with SGD momentum 0.9, weight decay 2e-4 and softmax cross-entropy, on the
same random batch; jaxtricks runs the classification task's step. They run interleaved in one
process, round by round; the script prints the median images/s of each, their ratio, the jaxtricks
step's FLOPs from XLA's cost analysis (GFLOP/s achieved) and its compile time. ``--profile`` traces
the jaxtricks step with the JAX profiler and sums the time of XLA's operations by kind.
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
import torch
from torch import nn

from jaxtricks.data import ArrayDataset, TrainBatches
from jaxtricks.models import ResNet
from jaxtricks.optim import create_optimizer, learning_rate_schedule
from jaxtricks.parallel import device_count, parallelize, place_state
from jaxtricks.tasks import Classification, Targets
from jaxtricks.training import base_config


# ----------------------------------------------------------------------------- PyTorch peer
class TorchBlock(nn.Module):
  def __init__(self, cin, cout, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout, momentum=0.1)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout, momentum=0.1)
    self.shortcut = nn.Sequential()
    if stride != 1 or cin != cout:
      self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class TorchResNet32(nn.Module):
  def __init__(self, num_classes=10, width=16, n=5):
    super().__init__()
    layers = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    cin = width
    for stage in range(3):
      for i in range(n):
        cout = width * 2 ** stage
        layers.append(TorchBlock(cin, cout, 2 if stage and i == 0 else 1))
        cin = cout
    self.features = nn.Sequential(*layers)
    self.fc = nn.Linear(cin, num_classes)

  def forward(self, x):
    return self.fc(self.features(x).mean(dim=(2, 3)))


def torch_step_fn(batch_size, images, labels):
  model = TorchResNet32()
  opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
  x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
  y = torch.from_numpy(labels.astype(np.int64))
  loss_fn = nn.CrossEntropyLoss()

  def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()
  return step


# ----------------------------------------------------------------------------- jaxtricks
def jax_step_fn(batch_size, images, labels, parallel):
  c = base_config()
  c.optim.update(lr=0.1, reference_batch=128, momentum=0.9, weight_decay=2e-4, schedule="constant")
  model = ResNet(depth=32, num_classes=10, axis_name="batch")
  schedule = learning_rate_schedule(c.optim, steps_per_epoch=1, num_epochs=1, global_batch=batch_size)
  n_dev = device_count(parallel)
  batches = TrainBatches(ArrayDataset(images, labels, 10), batch_size, seed=0, num_devices=n_dev)
  task = Classification(model=model, tx=create_optimizer(c.optim, schedule), schedule=schedule,
                        batches=batches, targets=Targets(num_classes=10))
  state = place_state(task.init(0), parallel)
  batch = jax.device_put(batches.batch(0))
  p_step = parallelize(task.train_step, parallel, donate_state=True)
  t0 = time.perf_counter()
  compiled = p_step.lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", float("nan"))) * (n_dev if parallel == "pmap" else 1)
  holder = {"state": state}

  def step():
    holder["state"], metrics = p_step(holder["state"], batch)
    return metrics
  jax.block_until_ready(step())  # Warm the dispatch cache.
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
  print(f"| XLA operations by kind | ms per step | share |\n|---|---|---|")
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


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=128)
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--parallel", choices=("pmap", "jit"), default="pmap")
  parser.add_argument("--profile", action="store_true", help="Trace the jaxtricks step only.")
  args = parser.parse_args()

  rng = np.random.default_rng(0)
  images = rng.standard_normal((args.batch, 32, 32, 3)).astype(np.float32)
  labels = rng.integers(0, 10, args.batch).astype(np.int32)
  jax_step, compile_s, flops = jax_step_fn(args.batch, images, labels, args.parallel)
  if args.profile:
    return profile(jax_step, args.steps)
  torch_step = torch_step_fn(args.batch, images, labels)
  torch_step()  # Warm-up.

  jax_ips, torch_ips = [], []
  for _ in range(args.rounds):
    jax_ips.append(args.steps * args.batch / timed(jax_step, args.steps, jax.block_until_ready))
    torch_ips.append(args.steps * args.batch / timed(torch_step, args.steps, lambda _: None))
  j, t = statistics.median(jax_ips), statistics.median(torch_ips)
  step_s = args.batch / j
  print(f"device: {jax.devices()[0].device_kind} ×{jax.local_device_count()} (jax {jax.__version__}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads)")
  print(f"| implementation | images/s (median of {args.rounds}×{args.steps} steps) |")
  print("|---|---|")
  print(f"| jaxtricks ({args.parallel} train_step) | {j:.0f} |")
  print(f"| PyTorch eager | {t:.0f} |")
  print(f"ratio jaxtricks / PyTorch: {j / t:.2f}")
  print(f"XLA cost analysis: {flops / 1e9:.2f} GFLOP per step → {flops / step_s / 1e9:.1f} GFLOP/s achieved")
  print(f"compile time of the jaxtricks step: {compile_s:.1f} s")


if __name__ == "__main__":
  main()
