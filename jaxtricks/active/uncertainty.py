"""Single-model and MC-dropout acquisition scores, and top-B selection.

Every score is an *uncertainty*: larger means "query first". All take logits (finite where a
probability is 0, unlike the ``Σ p log p`` of the ALFA-Mix baselines, which gives NaN and silently
drops the row).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax


def _entropy(log_probs: jax.Array, axis: int = -1) -> jax.Array:
  probs = jnp.exp(log_probs)
  return -jnp.sum(jnp.where(probs > 0, probs * log_probs, 0.0), axis=axis)


def least_confidence(logits: jax.Array) -> jax.Array:
  """``1 − max_c p_c`` (modAL ``classifier_uncertainty``)."""
  return 1.0 - jnp.max(jax.nn.softmax(logits), axis=-1)


def margin(logits: jax.Array) -> jax.Array:
  """``1 − (p_(1) − p_(2))``: one minus the gap between the two most probable classes (modAL / baal /
  google margin sampling pick the smallest gap)."""
  top2 = lax.top_k(jax.nn.softmax(logits), 2)[0]
  return 1.0 - (top2[..., 0] - top2[..., 1])


def entropy(logits: jax.Array) -> jax.Array:
  """``H(p) = −Σ_c p_c log p_c`` (natural log; ``0·log 0 = 0``)."""
  return _entropy(jax.nn.log_softmax(logits))


def bald(mc_logits: jax.Array) -> jax.Array:
  """BALD mutual information ``H(E_t p_t) − E_t H(p_t)`` from ``[T, U, C]`` MC-dropout logits
  (Houlsby et al., 2011; Gal et al., ICML 2017)."""
  log_probs = jax.nn.log_softmax(mc_logits)
  mean_probs = jnp.mean(jnp.exp(log_probs), axis=0)
  mean_log = jnp.log(jnp.where(mean_probs > 0, mean_probs, 1.0))
  return _entropy(mean_log) - jnp.mean(_entropy(log_probs), axis=0)


def mc_dropout_logits(apply_fn: Callable[[jax.Array, jax.Array], jax.Array], rng: jax.Array,
                      inputs: jax.Array, num_passes: int) -> jax.Array:
  """``[T, N, C]`` logits of ``num_passes`` stochastic passes ``apply_fn(key, inputs)``, vmapped over
  the keys (dropout on, BatchNorm in inference mode, as baal does)."""
  return jax.vmap(apply_fn, in_axes=(0, None))(jax.random.split(rng, num_passes), inputs)


def select_top(scores: jax.Array, budget: int, unlabelled: jax.Array) -> jax.Array:
  """Indices of the ``budget`` largest ``scores`` among the ``unlabelled`` (ties: lowest index
  first), most informative first. A ``ValueError`` when fewer than ``budget`` points are unlabelled
  (checked where ``unlabelled`` is concrete: inside a caller's ``jit`` that check is the caller's)."""
  if not isinstance(unlabelled, jax.core.Tracer) and budget > int(jnp.sum(unlabelled)):
    raise ValueError(f"budget={budget} exceeds the {int(jnp.sum(unlabelled))} unlabelled points")
  return _top_unlabelled(scores, budget, unlabelled)


@functools.partial(jax.jit, static_argnames=("budget",))
def _top_unlabelled(scores: jax.Array, budget: int, unlabelled: jax.Array) -> jax.Array:
  masked = jnp.where(unlabelled & ~jnp.isnan(scores), scores, -jnp.inf)
  return lax.top_k(masked, budget)[1]


def random_selection(rng: jax.Array, unlabelled, budget: int) -> jax.Array:
  """``budget`` distinct unlabelled indices drawn uniformly (without replacement)."""
  unlabelled = jnp.asarray(unlabelled)
  if budget > int(unlabelled.sum()):
    raise ValueError(f"budget={budget} exceeds the {int(unlabelled.sum())} unlabelled points")
  keys = jax.random.uniform(rng, unlabelled.shape)
  return lax.top_k(jnp.where(unlabelled, keys, -1.0), budget)[1]
