"""Adversarial perturbations as pure functions of a loss: FGSM (Goodfellow et al., ICLR 2015),
L∞ / L2 PGD with random start (Madry et al., ICLR 2018), and the targeted L2 PGD with which Ilyas et
al. (NeurIPS 2019) build their non-robust data sets (the ``robustness`` library's attacker).

``loss_fn(x) -> [B]`` per-example losses of a batch ``x [B, ...]`` (e.g. the cross-entropy of a model
at fixed parameters); each example is attacked independently. Results are clamped to ``data_range``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxtricks.parallel import example_keys

NORMS = ("linf", "l2")


def _per_example_norm(x: jax.Array) -> jax.Array:
  return jnp.sqrt(jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=1)).reshape(
      (-1,) + (1,) * (x.ndim - 1))


def _input_grad(loss_fn, x):
  return jax.grad(lambda x: jnp.sum(loss_fn(x)))(x)


def fgsm(loss_fn: Callable[[jax.Array], jax.Array], x: jax.Array, *, epsilon: float,
         data_range: tuple[float, float] = (0.0, 1.0)) -> jax.Array:
  """``clip(x + ε·sign(∇_x loss), data_range)``."""
  return jnp.clip(x + epsilon * jnp.sign(_input_grad(loss_fn, x)), *data_range)


def project(delta: jax.Array, *, epsilon: float, norm: str) -> jax.Array:
  """The perturbation ``delta`` projected onto the ε-ball of ``norm`` (per example)."""
  if norm == "linf":
    return jnp.clip(delta, -epsilon, epsilon)
  if norm == "l2":
    return delta * jnp.minimum(1.0, epsilon / jnp.maximum(_per_example_norm(delta), 1e-12))
  raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def pgd(rng: jax.Array | None, loss_fn: Callable[[jax.Array], jax.Array], x: jax.Array, *,
        epsilon: float, step_size: float, steps: int, norm: str = "linf",
        data_range: tuple[float, float] = (0.0, 1.0), axis_name: str | None = None) -> jax.Array:
  """Projected gradient ascent on ``loss_fn`` within the ε-ball around ``x``.

  Start: ``x`` plus a uniform point of the ball (L∞: each coordinate in ``[−ε, ε]``; L2: a uniform
  direction with radius ``ε·U^{1/d}``) if ``rng`` is given, else ``x``; example ``i`` draws from
  ``fold_in(rng, global position of i)`` (``axis_name``: the parallel step's axis, if any). Step:
  ``step_size·sign(g)`` (L∞) or ``step_size·g/|g|`` (L2), then projection onto the ball and clamping
  to ``data_range``.
  """
  if norm not in NORMS:
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
  delta = jnp.zeros_like(x)
  if rng is not None:
    keys = example_keys(rng, x.shape[0], axis_name)
    if norm == "linf":
      delta = jax.vmap(lambda k: jax.random.uniform(k, x.shape[1:], x.dtype, -epsilon, epsilon))(keys)
    else:
      def one(key):
        k_dir, k_rad = jax.random.split(key)
        direction = jax.random.normal(k_dir, x.shape[1:], x.dtype)
        direction /= jnp.maximum(jnp.sqrt(jnp.sum(direction ** 2)), 1e-12)
        return direction * epsilon * jax.random.uniform(k_rad, (), x.dtype) ** (1.0 / direction.size)
      delta = jax.vmap(one)(keys)
  x_adv = jnp.clip(x + delta, *data_range)

  def step(_, x_adv):
    g = _input_grad(loss_fn, x_adv)
    if norm == "linf":
      g = jnp.sign(g)
    else:
      g = g / jnp.maximum(_per_example_norm(g), 1e-12)
    moved = x_adv + step_size * g
    return jnp.clip(x + project(moved - x, epsilon=epsilon, norm=norm), *data_range)

  return jax.lax.fori_loop(0, steps, step, x_adv)


def targeted_pgd_l2(loss_fn: Callable[[jax.Array], jax.Array], x: jax.Array, *, epsilon: float,
                    step_size: float, steps: int, data_range: tuple[float, float] = (0.0, 1.0),
                    use_best: bool = True) -> jax.Array:
  """Projected gradient *descent* on ``loss_fn`` (e.g. the cross-entropy to a target class) in the
  L2 ε-ball around ``x``, as MadryLab's ``robustness`` codes its targeted L2 attack: no random start;
  step ``x − step_size·g/(|g| + 1e-10)``; projection ``x₀ + renorm(x − x₀, ε)`` (rescaled by
  ``ε/(|δ| + 1e-7)`` when ``|δ| > ε``) and clamping to ``data_range``; with ``use_best`` each example
  returns the iterate, the start and the last one included, with the lowest loss."""

  def descend(x_adv):
    g = -_input_grad(loss_fn, x_adv)
    moved = x_adv + step_size * g / (_per_example_norm(g) + 1e-10)
    delta = moved - x
    norm = _per_example_norm(delta)
    delta = delta * jnp.where(norm > epsilon, epsilon / (norm + 1e-7), 1.0)
    return jnp.clip(x + delta, *data_range)

  def keep_best(x_adv, best_x, best_loss):
    loss = loss_fn(x_adv)
    better = (loss < best_loss).reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.where(better, x_adv, best_x), jnp.minimum(loss, best_loss)

  def step(_, carry):
    x_adv, best_x, best_loss = carry
    if use_best:
      best_x, best_loss = keep_best(x_adv, best_x, best_loss)
    return descend(x_adv), best_x, best_loss

  start = (x, x, jnp.full(x.shape[:1], jnp.inf, x.dtype))
  x_adv, best_x, best_loss = jax.lax.fori_loop(0, steps, step, start)
  if not use_best:
    return x_adv
  return keep_best(x_adv, best_x, best_loss)[0]
