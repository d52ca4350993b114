"""M2m: major-to-minor translation (Kim, Jeong & Shin, CVPR 2020), as pure jittable functions.

A seed ``x0`` of a frequent class ``k0`` is moved towards a rarer target class ``k`` by T normalised
gradient steps on ``CE(g(x), k) + λ·f(x)[k0]`` — ``g`` a classifier pre-trained on the imbalanced data,
``f`` the classifier being trained (its raw logit for the seed class, as in the official code) —
clamped to the data range. A translated ``x*`` is accepted if ``softmax(g(x*))[k] ≥ γ`` and a
Bernoulli draw of ``1 − β^{(N_k0 − N_k)^+}`` succeeds; rejected slots keep their original example.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

NOISE_MODES = ("per_sample", "official")


def random_start_noise(rng: jax.Array, shape: tuple[int, ...], *, radius: float = 0.5,
                       mode: str = "per_sample", channel_axis: int = -1) -> jax.Array:
  """``U[−½, ½)`` noise whose L2 norm is capped at ``radius``.

  ``per_sample`` caps each example's noise (the paper's intent). ``official`` reproduces the official
  code's ``renorm(p=2, dim=1)``, which caps each *channel across the whole batch*, so every example gets
  a perturbation about ``1/√B`` times smaller.
  """
  if mode not in NOISE_MODES:
    raise ValueError(f"mode must be one of {NOISE_MODES}, got {mode!r}")
  noise = jax.random.uniform(rng, shape) - 0.5
  ndim = len(shape)
  if mode == "per_sample":
    axes = tuple(range(1, ndim))
  else:
    axes = tuple(a for a in range(ndim) if a != channel_axis % ndim)
  norm = jnp.sqrt(jnp.sum(noise ** 2, axis=axes, keepdims=True))
  return noise * jnp.minimum(1.0, radius / (norm + 1e-7))


def translate(g_apply: Callable[[jax.Array], jax.Array], f_apply: Callable[[jax.Array], jax.Array],
              x0: ArrayLike, seed_labels: ArrayLike, target_labels: ArrayLike, *, steps: int = 10,
              step_size: float = 0.1, lam: float = 0.5, init_noise: ArrayLike | None = None,
              data_range: tuple[float, float] = (0.0, 1.0)) -> jax.Array:
  """Returns ``x*`` after ``steps`` updates ``x ← clip(x − η·∇L/‖∇L‖₂, lo, hi)`` (norm per example).

  ``L(x) = mean_i CE(g(x_i), k_i) + λ·mean_i f(x_i)[k0_i]``, starting from ``clip(x0 + init_noise)``.
  ``g_apply`` and ``f_apply`` map a batch of inputs to logits (both in evaluation mode).
  """
  lo, hi = data_range
  x = jnp.asarray(x0)
  if init_noise is not None:
    x = jnp.clip(x + init_noise, lo, hi)
  seed_labels, target_labels = jnp.asarray(seed_labels), jnp.asarray(target_labels)

  def objective(x):
    ce = optax.softmax_cross_entropy_with_integer_labels(g_apply(x), target_labels).mean()
    seed_logit = jnp.take_along_axis(f_apply(x), seed_labels[:, None], axis=-1).mean()
    return ce + lam * seed_logit

  def body(_, x):
    grad = jax.grad(objective)(x)
    norm = jnp.sqrt(jnp.sum(grad ** 2, axis=tuple(range(1, x.ndim)), keepdims=True))
    return jnp.clip(x - step_size * grad / (norm + 1e-10), lo, hi)

  return jax.lax.fori_loop(0, steps, body, x)


def acceptance_table(samples_per_class: ArrayLike, batch_labels: ArrayLike, *, beta: float) -> np.ndarray:
  """``[C, B]``: row ``k``, column ``j`` = ``1 − β^{max(N_{y_j} − N_k, 0)}``.

  Used both as the (unnormalised) probability of picking example ``j`` as the seed for target ``k`` and
  as the probability of accepting the translated sample.
  """
  counts = np.asarray(samples_per_class, np.float64)
  gap = np.maximum(counts[np.asarray(batch_labels)][None, :] - counts[:, None], 0.0)
  return 1.0 - np.power(beta, gap)


def generation_probability(samples_per_class: ArrayLike, batch_labels: ArrayLike) -> np.ndarray:
  """``[B]``: probability that a batch slot is replaced by a generated sample, ``1 − N_{y_i} / N_max``."""
  counts = np.asarray(samples_per_class, np.float64)
  return 1.0 - counts[np.asarray(batch_labels)] / counts.max()


def accept(g_apply: Callable[[jax.Array], jax.Array], x_star: jax.Array, target_labels: ArrayLike,
           bernoulli: ArrayLike, *, threshold: float) -> jax.Array:
  """``softmax(g(x*))[k] ≥ threshold`` and the Bernoulli draw: which translations are kept."""
  probs = jax.nn.softmax(g_apply(x_star))
  confident = jnp.take_along_axis(probs, jnp.asarray(target_labels)[:, None], axis=-1)[:, 0] >= threshold
  return confident & jnp.asarray(bernoulli, bool)
