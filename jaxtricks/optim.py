"""Learning-rate schedules and optimizers of the Bag-of-Tricks recipe (He et al., CVPR 2019), on optax.

Schedules are functions of the update number ``u`` as GluonCV/MXNet count it: the first optimizer step
uses ``u = 1``. :func:`create_optimizer` feeds ``count + 1`` to them so a run reproduces GluonCV's LRs.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import ml_collections
import optax

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")


def warmup_cosine_schedule(peak_value: float, warmup_steps: int, total_steps: int) -> optax.Schedule:
  """Linear warm-up then cosine to zero, per iteration (GluonCV ``LRSequential``).

  ``lr(u) = peak·u/(W−1)`` for ``u < W``, then ``peak·(1 + cos(π·(u−W)/(T−W−1)))/2`` with ``u`` clamped
  to ``T−1`` (``W`` warm-up and ``T`` total steps).
  """
  cosine = optax.cosine_decay_schedule(peak_value, max(total_steps - warmup_steps - 1, 1))
  if warmup_steps == 0:
    return cosine
  warmup = optax.linear_schedule(0.0, peak_value, max(warmup_steps - 1, 1))
  return optax.join_schedules([warmup, cosine], [warmup_steps])


def warmup_step_schedule(peak_value: float, warmup_steps: int, decay_steps: list[int],
                         decay_factor: float) -> optax.Schedule:
  """Linear warm-up, then ``peak·factor^k`` where ``k`` = number of ``decay_steps`` ≤ ``u`` (GluonCV step)."""
  scales: dict[int, float] = {}
  for s in sorted(decay_steps):
    boundary = s - warmup_steps  # Counted from the end of warm-up, as the joined schedule sees it.
    scales[boundary] = scales.get(boundary, 1.0) * decay_factor
  steps = optax.piecewise_constant_schedule(peak_value, scales)
  if warmup_steps == 0:
    return steps
  warmup = optax.linear_schedule(0.0, peak_value, max(warmup_steps - 1, 1))
  return optax.join_schedules([warmup, steps], [warmup_steps])


def scaled_learning_rate(config: ml_collections.ConfigDict, global_batch: int) -> float:
  """Linear scaling rule: ``lr · B / reference_batch`` (Goyal et al., 2017)."""
  return config.lr * global_batch / config.reference_batch


def learning_rate_schedule(config: ml_collections.ConfigDict, *, steps_per_epoch: int,
                           num_epochs: int, global_batch: int) -> optax.Schedule:
  """The schedule of the ``optim`` config block, as a function of the update number ``u`` (1-based)."""
  peak = scaled_learning_rate(config, global_batch)
  warmup = int(config.warmup_epochs * steps_per_epoch)
  total = num_epochs * steps_per_epoch
  if config.schedule == "cosine":
    return warmup_cosine_schedule(peak, warmup, total)
  if config.schedule == "step":
    return warmup_step_schedule(peak, warmup, [int(e * steps_per_epoch) for e in config.decay_epochs],
                                config.decay_factor)
  if config.schedule == "constant":
    return optax.constant_schedule(peak)
  raise ValueError(f"optim.schedule must be one of {SCHEDULES}, got {config.schedule!r}")


def decay_mask(params: Any, no_bias_decay: bool) -> Any:
  """True for parameters that get weight decay: everything, or with ``no_bias_decay`` only the conv/dense
  kernels (rank ≥ 2), leaving biases, BatchNorm γ/β and PReLU slopes undecayed."""
  return jax.tree.map(lambda p: p.ndim > 1 or not no_bias_decay, params)


def create_optimizer(config: ml_collections.ConfigDict,
                     schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD (momentum/Nesterov, coupled L2 decay as in GluonCV) or AdamW (decoupled decay)."""
  lr = lambda count: schedule(count + 1)
  mask = functools.partial(decay_mask, no_bias_decay=config.no_bias_decay)
  if config.name == "sgd":
    return optax.chain(optax.add_decayed_weights(config.weight_decay, mask),
                       optax.sgd(lr, momentum=config.momentum or None, nesterov=config.nesterov))
  if config.name == "adamw":
    return optax.adamw(lr, b1=config.b1, b2=config.b2, weight_decay=config.weight_decay, mask=mask)
  raise ValueError(f"optim.name must be one of {OPTIMIZERS}, got {config.name!r}")
