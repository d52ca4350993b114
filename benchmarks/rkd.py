"""RKD distance + angle loss, forward + backward: jaxtricks (Gram matrix, chunked) vs the official
formulation (lenscloth/RKD ``RkdDistance`` + ``RKdAngle``, written below in PyTorch).

  pip install torch   # benchmark-only dependency
  python benchmarks/rkd.py --batch=512 --dim=512 --rounds=7
  python benchmarks/rkd.py --memory --batch=2048 --dim=512

The official angle loss builds the ``B×B×D`` difference tensor and the ``B³`` angle tensor; jaxtricks
works from the ``B×B`` Gram matrix, ``chunk_size`` anchors at a time. Timing: both run interleaved in
one process, round by round, on the same random embeddings; the script prints medians and the ratio.
``--memory`` runs jaxtricks alone (in a fresh process) and prints XLA's compiled temporary-buffer size
and the process's peak resident memory; the official formulation's tensor sizes are computed, not run.
"""

import argparse
import resource
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxtricks.losses import rkd_loss


def torch_official_rkd(student, teacher):
  """``RkdDistance + 2·RKdAngle`` as in lenscloth/RKD ``metric/loss.py``."""
  import torch
  import torch.nn.functional as F

  def pdist(e, eps=1e-12):
    e_square = e.pow(2).sum(dim=1)
    prod = e @ e.t()
    res = (e_square.unsqueeze(1) + e_square.unsqueeze(0) - 2 * prod).clamp(min=eps).sqrt().clone()
    res[range(len(e)), range(len(e))] = 0
    return res

  def angles(e):
    d = e.unsqueeze(0) - e.unsqueeze(1)
    n = F.normalize(d, p=2, dim=2)
    return torch.bmm(n, n.transpose(1, 2)).view(-1)

  with torch.no_grad():
    t_d = pdist(teacher)
    t_d = t_d / t_d[t_d > 0].mean()
    t_angle = angles(teacher)
  d = pdist(student)
  d = d / d[d > 0].mean()
  dist = F.smooth_l1_loss(d, t_d, reduction="mean")
  angle = F.smooth_l1_loss(angles(student), t_angle, reduction="mean")
  return dist + 2.0 * angle


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=512)
  parser.add_argument("--dim", type=int, default=512)
  parser.add_argument("--chunk_size", type=int, default=8)
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--memory", action="store_true", help="jaxtricks peak memory only")
  args = parser.parse_args()
  b, d = args.batch, args.dim
  rng = np.random.default_rng(0)
  student_np = rng.standard_normal((b, d), dtype=np.float32)
  teacher_np = rng.standard_normal((b, d), dtype=np.float32)

  step = jax.jit(jax.value_and_grad(
      lambda s, t: rkd_loss(s, t, distance_weight=1.0, angle_weight=2.0, chunk_size=args.chunk_size)))
  student, teacher = jnp.asarray(student_np), jnp.asarray(teacher_np)
  compiled = step.lower(student, teacher).compile()
  print(f"device: {jax.devices()[0].device_kind}; B={b}, D={d}, chunk_size={args.chunk_size}")
  temp = compiled.memory_analysis().temp_size_in_bytes
  print(f"jaxtricks XLA temporary buffers: {temp / 2**20:.1f} MiB")
  if args.memory:
    t0 = time.perf_counter()
    loss, grad = compiled(student, teacher)
    jax.block_until_ready(grad)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"jaxtricks: loss {float(loss):.6f}, one forward+backward {time.perf_counter() - t0:.1f} s, "
          f"peak resident memory of the process {peak:.0f} MiB")
    print(f"official formulation would hold: B×B×D difference tensor {b * b * d * 4 / 2**30:.1f} GiB, "
          f"B³ angle tensor {b ** 3 * 4 / 2**30:.1f} GiB (float32, each of student and teacher)")
    return

  import torch
  torch.manual_seed(0)
  t_student = torch.tensor(student_np, requires_grad=True)
  t_teacher = torch.tensor(teacher_np)

  def run_torch():
    t_student.grad = None
    loss = torch_official_rkd(t_student, t_teacher)
    loss.backward()
    return float(loss.detach()), t_student.grad.numpy()

  def run_jax():
    loss, grad = compiled(student, teacher)
    return float(loss), np.asarray(jax.block_until_ready(grad))

  (l_t, g_t), (l_j, g_j) = run_torch(), run_jax()  # Warm-up, and the two must agree.
  grad_error = np.abs(g_t - g_j).max() / np.abs(g_t).max()
  print(f"loss: PyTorch {l_t:.6f}, jaxtricks {l_j:.6f}; max |grad diff| / max |grad| = {grad_error:.2e}")
  assert abs(l_t - l_j) <= 1e-5 * abs(l_t) and grad_error <= 1e-4, "the two sides disagree"
  times = {"PyTorch (official formulation)": [], "jaxtricks": []}
  for _ in range(args.rounds):
    for name, fn in (("PyTorch (official formulation)", run_torch), ("jaxtricks", run_jax)):
      t0 = time.perf_counter()
      fn()
      times[name].append(time.perf_counter() - t0)
  medians = {k: statistics.median(v) for k, v in times.items()}
  for name, m in medians.items():
    print(f"{name}: median {m * 1e3:.1f} ms per forward+backward ({args.rounds} rounds)")
  speedup = medians['PyTorch (official formulation)'] / medians['jaxtricks']
  print(f"speed-up jaxtricks vs PyTorch: {speedup:.1f}x "
        f"(torch threads: {torch.get_num_threads()})")


if __name__ == "__main__":
  main()
