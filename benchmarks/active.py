"""Active-learning selection at scale: k-center greedy (Core-Set) and the ALFA-Mix candidate search,
jaxtricks vs NumPy implementations written here after the official ALFA-Mix code.

  python benchmarks/active.py --pool=100000 --dim=512 --rounds=3
  python benchmarks/active.py --pool=1000000 --dim=512 --jaxtricks_only

The peers are the strongest honest NumPy versions of the official code, in float32:
``query_strategies/core_set.py:furthest_first`` (distances to the labelled set, then a running
minimum updated per pick) with the row norms computed once and one matrix–vector product per pick,
and ``alpha_mix_sampling.py`` in closed form (per cap and anchor: ``α = ε·|z|/|g|·g/(z + 1e-8)``, the
``[U, D]`` mix, the head, the prediction flips). Both sides see the same random pool, labelled set
and linear head; the script asserts that they return the same result, runs them interleaved and
prints medians and ratios. ``--jaxtricks_only`` times jaxtricks alone and prints the process's peak
resident memory.
"""

import argparse
import resource
import statistics
import time

import jax
import numpy as np

from jaxtricks.active import alfamix_candidates, class_anchors, kcenter_greedy


def numpy_kcenter(x, labelled, budget, chunk=256):
  """``furthest_first`` on the unlabelled rows, the strongest honest NumPy version: float32, the row
  norms once, the labelled-set distances in chunks, one matrix–vector product per pick (squared
  distances: the same argmax). Returns pool indices."""
  pool = np.flatnonzero(~labelled)
  unl, lab = x[pool], x[labelled]
  sq = np.einsum("ij,ij->i", unl, unl)
  min_dist = np.full(len(unl), np.inf, np.float32)
  for start in range(0, len(lab), chunk):
    c = lab[start:start + chunk]
    d = sq[:, None] - 2.0 * (unl @ c.T) + np.einsum("ij,ij->i", c, c)[None]
    min_dist = np.minimum(min_dist, np.maximum(d, 0.0).min(axis=1))
  picks = []
  for _ in range(budget):
    idx = int(min_dist.argmax())
    picks.append(idx)
    min_dist = np.minimum(min_dist, np.maximum(sq - 2.0 * (unl @ unl[idx]) + sq[idx], 0.0))
    min_dist[idx] = -1.0
  return pool[np.array(picks)]


def numpy_alfamix_candidates(z, kernel, bias, anchors, budget, cap_step):
  logits = z @ kernel + bias
  pred = logits.argmax(1)
  probs = np.exp(logits - logits.max(1, keepdims=True))
  probs /= probs.sum(1, keepdims=True)
  onehot = np.eye(kernel.shape[1], dtype=z.dtype)[pred]
  grads = (probs - onehot) @ kernel.T / len(z)  # ∇ of the mean cross-entropy, as in the reference.
  candidates = np.zeros(len(z), bool)
  cap = 0.0
  while cap < 1.0:
    cap += cap_step
    eps = np.float32(cap / np.sqrt(z.shape[1]))  # A float64 scalar would promote the arrays.
    for anchor in anchors:
      diff = anchor[None] - z
      alpha = (eps * np.linalg.norm(diff, axis=1, keepdims=True)
               / np.linalg.norm(grads, axis=1, keepdims=True)) * grads / (diff + 1e-8)
      mix = (1 - alpha) * z + alpha * anchor[None]
      candidates |= (mix @ kernel + bias).argmax(1) != pred
    if candidates.sum() > budget:
      break
  return candidates


def problem(pool, dim, classes, labelled_count, seed=0):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(classes, dim)).astype(np.float32)
  labels = rng.integers(0, classes, pool)
  x = (centres[labels] + 8.0 * rng.normal(size=(pool, dim))).astype(np.float32)
  labelled = np.zeros(pool, bool)
  labelled[rng.choice(pool, labelled_count, replace=False)] = True
  # A linear head on overlapping classes (about 87 % accurate), far from softmax saturation.
  kernel = (0.1 * centres.T / np.sqrt(dim)).astype(np.float32)
  bias = np.zeros(classes, np.float32)
  return x, labels, labelled, kernel, bias


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--pool", type=int, default=100_000)
  parser.add_argument("--dim", type=int, default=512)
  parser.add_argument("--classes", type=int, default=10)
  parser.add_argument("--labelled", type=int, default=1000)
  parser.add_argument("--budget", type=int, default=100)
  parser.add_argument("--cap_step", type=float, default=0.2)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--jaxtricks_only", action="store_true")
  args = parser.parse_args()
  x, labels, labelled, kernel, bias = problem(args.pool, args.dim, args.classes, args.labelled)
  unl = ~labelled
  anchors = np.asarray(class_anchors(x[labelled], labels[labelled], args.classes))
  print(f"device: {jax.devices()[0].device_kind}; pool {args.pool} × {args.dim}, {args.labelled} "
        f"labelled, budget {args.budget}, {args.classes} classes")

  def ours_kcenter():
    return np.asarray(jax.block_until_ready(kcenter_greedy(x, labelled, args.budget)))

  def ours_alfamix():
    return alfamix_candidates(x[unl], kernel, bias, anchors, args.budget, cap_step=args.cap_step)[0]

  if args.jaxtricks_only:
    for name, fn in (("k-center greedy", ours_kcenter), ("ALFA-Mix candidates", ours_alfamix)):
      fn()
      t0 = time.perf_counter()
      out = fn()
      print(f"jaxtricks {name}: {time.perf_counter() - t0:.2f} s (after a warm-up call); "
            f"{int(np.sum(out > 0)) if out.dtype == bool else len(out)} selected/candidates")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory of the process: {peak:.2f} GiB "
          f"(the pool alone is {x.nbytes / 2**30:.2f} GiB)")
    return

  pairs = {"k-center greedy": (ours_kcenter, lambda: numpy_kcenter(x, labelled, args.budget)),
           "ALFA-Mix candidates": (ours_alfamix, lambda: numpy_alfamix_candidates(
               x[unl], kernel, bias, anchors, args.budget, args.cap_step))}
  for name, (ours, peer) in pairs.items():
    a, b = ours(), peer()
    assert b.dtype == bool or b.dtype.kind == "i", b.dtype
    if a.dtype == bool:
      print(f"{name}: {int(a.sum())} candidates (jaxtricks) vs {int(b.sum())} (NumPy), "
            f"{int(np.sum(a != b))} differ")
    else:
      print(f"{name}: the same picks in the same order: {np.array_equal(a, b)}")
    assert np.array_equal(a, b), f"{name}: jaxtricks and the peer disagree"
    times = {"NumPy": [], "jaxtricks": []}
    for _ in range(args.rounds):
      for label, fn in (("NumPy", peer), ("jaxtricks", ours)):
        t0 = time.perf_counter()
        fn()
        times[label].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{name}: NumPy {med['NumPy']:.3f} s, jaxtricks "
          f"{med['jaxtricks']:.3f} s (medians of {args.rounds}); speed-up "
          f"{med['NumPy'] / med['jaxtricks']:.1f}x")


if __name__ == "__main__":
  main()
