"""M2m: major-to-minor translation (Kim, Jeong & Shin, CVPR 2020), as pure jittable functions.

A seed ``x0`` of a frequent class ``k0`` is moved towards a rarer target class ``k`` by T normalised
gradient steps on ``CE(g(x), k) + λ·f(x)[k0]`` — ``g`` a classifier pre-trained on the imbalanced data,
``f`` the classifier being trained (its raw logit for the seed class, as in the official code) —
clamped to the data range. A translated ``x*`` is accepted if ``softmax(g(x*))[k] ≥ γ`` and a
Bernoulli draw of ``1 − β^{(N_k0 − N_k)^+}`` succeeds; rejected slots keep their original example.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jaxtricks.parallel import example_keys, gather_batch

NOISE_MODES = ("per_sample", "official")


def random_start_noise(rng: jax.Array, shape: tuple[int, ...], *, radius: float = 0.5,
                       mode: str = "per_sample", channel_axis: int = -1) -> jax.Array:
  """``U[−½, ½)`` noise whose L2 norm is capped at ``radius`` (see :func:`cap_noise`)."""
  noise = jax.random.uniform(rng, shape) - 0.5
  return cap_noise(noise, radius=radius, mode=mode, channel_axis=channel_axis)


def cap_noise(noise: jax.Array, *, radius: float = 0.5, mode: str = "per_sample",
              channel_axis: int = -1) -> jax.Array:
  """``noise [B, ...]`` with its L2 norm capped at ``radius``.

  ``per_sample`` caps each example's noise (the paper's intent). ``official`` reproduces the official
  code's ``renorm(p=2, dim=1)``, which caps each *channel across the whole batch*, so every example gets
  a perturbation about ``1/√B`` times smaller.
  """
  if mode not in NOISE_MODES:
    raise ValueError(f"mode must be one of {NOISE_MODES}, got {mode!r}")
  ndim = noise.ndim
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


def acceptance_table(samples_per_class: ArrayLike, batch_labels: ArrayLike, *, beta: float) -> jax.Array:
  """``[C, B]``: row ``k``, column ``j`` = ``1 − β^{max(N_{y_j} − N_k, 0)}``.

  Used both as the (unnormalised) probability of picking example ``j`` as the seed for target ``k`` and
  as the probability of accepting the translated sample.
  """
  counts = jnp.asarray(samples_per_class, jnp.float32)
  gap = jnp.maximum(counts[jnp.asarray(batch_labels)][None, :] - counts[:, None], 0.0)
  return 1.0 - jnp.power(beta, gap)


def generation_probability(samples_per_class: ArrayLike, batch_labels: ArrayLike) -> jax.Array:
  """``[B]``: probability that a batch slot is replaced by a generated sample, ``1 − N_{y_i} / N_max``."""
  counts = jnp.asarray(samples_per_class, jnp.float32)
  return 1.0 - counts[jnp.asarray(batch_labels)] / counts.max()


def accept(g_apply: Callable[[jax.Array], jax.Array], x_star: jax.Array, target_labels: ArrayLike,
           bernoulli: ArrayLike, *, threshold: float) -> jax.Array:
  """``softmax(g(x*))[k] ≥ threshold`` and the Bernoulli draw: which translations are kept."""
  probs = jax.nn.softmax(g_apply(x_star))
  confident = jnp.take_along_axis(probs, jnp.asarray(target_labels)[:, None], axis=-1)[:, 0] >= threshold
  return confident & jnp.asarray(bernoulli, bool)


def draw_seeds(keys: jax.Array, samples_per_class: ArrayLike, pool_labels: ArrayLike,
               target_labels: ArrayLike, *, beta: float) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Each target's seed in the pool, drawn ``∝`` :func:`acceptance_table` (one key per target).

  Returns ``(seeds, p, has_seed)``: the seed's pool index, its acceptance probability
  ``1 − β^{N_{y_seed} − N_k}`` and whether the target has any candidate (a class larger than its own).
  """
  table = acceptance_table(samples_per_class, pool_labels, beta=beta)[jnp.asarray(target_labels)]
  has_seed = table.sum(axis=1) > 0
  seeds = jax.vmap(jax.random.categorical)(keys, jnp.log(jnp.where(has_seed[:, None], table, 1.0)))
  return seeds, table[jnp.arange(table.shape[0]), seeds], has_seed


def m2m_batch(rng: jax.Array, images: jax.Array, labels: jax.Array, *,
              g_apply: Callable[[jax.Array], jax.Array], f_apply: Callable[[jax.Array], jax.Array],
              samples_per_class: ArrayLike, beta: float = 0.999, threshold: float = 0.9,
              lam: float = 0.5, step_size: float = 0.1, steps: int = 10, noise: str = "per_sample",
              data_range: tuple[float, float] = (0.0, 1.0),
              axis_name: str | None = None) -> tuple[jax.Array, jax.Array]:
  """One M2m batch (official ``train_gen_epoch``): returns ``(images, accepted[B])``.

  Slot ``i`` (target ``k = y_i``) is a generation slot with probability :func:`generation_probability`;
  its seed ``j`` is drawn from the batch ``∝`` :func:`acceptance_table` row ``k``; the translated seed
  replaces the slot's image if :func:`accept` keeps it. Labels are unchanged (the target is the label).
  Each slot's draws come from ``fold_in(rng, its global position)``; inside a parallel step
  (``axis_name``) seeds are drawn from the global batch, so the result does not depend on the number
  of devices (``noise="official"`` caps over this device's slots, as the official code caps per batch).
  """
  pool_images, pool_labels = images, labels
  if axis_name is not None:
    pool_images, pool_labels = gather_batch(images, axis_name), gather_batch(labels, axis_name)
  keys = jax.vmap(lambda k: jax.random.split(k, 4))(example_keys(rng, labels.shape[0], axis_name))
  k_gen, k_seed, k_noise, k_accept = (keys[:, i] for i in range(4))
  draw = jax.vmap(jax.random.uniform)
  generate = draw(k_gen) < generation_probability(samples_per_class, labels)
  seeds, seed_accept, has_seed = draw_seeds(k_seed, samples_per_class, pool_labels, labels, beta=beta)
  uniform = jax.vmap(lambda k: jax.random.uniform(k, images.shape[1:]))(k_noise) - 0.5
  start_noise = cap_noise(uniform, mode=noise)
  x_star = translate(g_apply, f_apply, pool_images[seeds], pool_labels[seeds], labels, steps=steps,
                     step_size=step_size, lam=lam, init_noise=start_noise, data_range=data_range)
  bernoulli = draw(k_accept) < seed_accept
  kept = accept(g_apply, x_star, labels, bernoulli, threshold=threshold) & generate & has_seed
  mask = kept.reshape((-1,) + (1,) * (images.ndim - 1))
  return jnp.where(mask, x_star.astype(images.dtype), images), kept


@dataclasses.dataclass(frozen=True)
class M2mTranslation:
  """The settings of :func:`m2m_batch` as a batch transform of a training step, applied from
  ``from_step`` on (deferred generation, as the official schedule). The generator ``g`` is given at
  call time (its variables travel in the train state, never in a closure)."""

  samples_per_class: tuple[int, ...]
  from_step: int = 0
  data_range: tuple[float, float] = (0.0, 1.0)
  beta: float = 0.999
  threshold: float = 0.9
  lam: float = 0.5
  step_size: float = 0.1
  steps: int = 10
  noise: str = "per_sample"

  def __call__(self, rng: jax.Array, images: jax.Array, labels: jax.Array, *,
               g_apply: Callable[[jax.Array], jax.Array], f_apply: Callable[[jax.Array], jax.Array],
               axis_name: str | None = None) -> tuple[jax.Array, jax.Array]:
    return m2m_batch(rng, images, labels, g_apply=g_apply, f_apply=f_apply,
                     samples_per_class=self.samples_per_class, beta=self.beta,
                     threshold=self.threshold, lam=self.lam, step_size=self.step_size,
                     steps=self.steps, noise=self.noise, data_range=self.data_range,
                     axis_name=axis_name)
