"""Deep InfoMax (Hjelm et al., ICLR 2019): mutual-information lower bounds between local feature maps
and global codes, and prior matching, with the official code's conventions (rdevon/DIM).

Inputs: ``local [N, units, n_locals]`` (one column per location) and ``global_ [N, units, n_globals]``.
Scores ``u[i, j, a, b] = <global_[i, :, b], local[j, :, a]>``; the pairs ``i = j`` are positive. Every
loss here is a scalar to minimise.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

LOG2 = math.log(2.0)
_sp = jax.nn.softplus

# (E_P[T], E_Q[f*(T)]) of each f-divergence's variational bound (Nowozin et al., 2016), as coded.
MEASURES = {
    "JSD": (lambda u: LOG2 - _sp(-u), lambda u: _sp(-u) + u - LOG2),
    "GAN": (lambda u: -_sp(-u), lambda u: _sp(-u) + u),
    "KL": (lambda u: u, lambda u: jnp.exp(u - 1.0)),
    "RKL": (lambda u: -jnp.exp(-u), lambda u: u - 1.0),
    "H2": (lambda u: 1.0 - jnp.exp(-u), lambda u: jnp.exp(u) - 1.0),
    "X2": (lambda u: u ** 2, lambda u: -0.5 * (jnp.abs(u) + 1.0) ** 2),
    "W1": (lambda u: u, lambda u: u),
}


def _measure(measure: str):
  if measure not in MEASURES:
    raise ValueError(f"measure must be one of {sorted(MEASURES)}, got {measure!r}")
  return MEASURES[measure]


def dim_scores(local: jax.Array, global_: jax.Array) -> jax.Array:
  """``u [N, N, n_locals, n_globals]``: global code of sample i against location a of sample j."""
  chex.assert_rank([local, global_], 3, custom_message="local [N, D, n_locals] and global_ [N, D, n_globals]")
  chex.assert_equal_shape_prefix([local, global_], 2,
                                 custom_message="local and global_ must share N and the code size D")
  return jnp.einsum("iub,jua->ijab", global_, local)


def fenchel_dual_loss(local: jax.Array, global_: jax.Array, *, measure: str = "JSD") -> jax.Array:
  """``E_Q[f*(u)] over negatives − E_P[u] over positives`` (DIM's ``fd`` mode; JSD by default).

  Positive term: mean over the ``i = j`` score blocks; negative term: mean over the ``i ≠ j`` blocks.
  For JSD this is ``−Î_JSD − 2 log 2``.
  """
  positive, negative = _measure(measure)
  u = dim_scores(local, global_)
  eye = jnp.eye(u.shape[0], dtype=bool)[:, :, None, None]
  n = u.shape[0]
  e_pos = jnp.sum(jnp.where(eye, positive(u), 0.0)) / (n * u.shape[2] * u.shape[3])
  e_neg = jnp.sum(jnp.where(eye, 0.0, negative(u))) / (n * (n - 1) * u.shape[2] * u.shape[3])
  return e_neg - e_pos


def infonce_loss(local: jax.Array, global_: jax.Array) -> jax.Array:
  """InfoNCE (DIM's ``nce`` mode): for each sample i, location a and global b, the positive score
  ``u[i,i,a,b]`` against every ``u[i,j,a',b]``, where the sample's own block ``j = i`` is replaced by
  the constant −10 and kept in the denominator (as the official code does)."""
  u = dim_scores(local, global_)  # [i, j, a, b]
  n, _, n_locals, n_globals = u.shape
  eye = jnp.eye(n, dtype=bool)[:, :, None, None]
  negatives = jnp.where(eye, -10.0, u).transpose(0, 3, 1, 2).reshape(n, n_globals, n * n_locals)
  positives = jnp.diagonal(u, axis1=0, axis2=1).transpose(2, 0, 1)  # [i, a, b]
  logits = jnp.concatenate([positives[..., None],
                            jnp.broadcast_to(negatives[:, None], (n, n_locals, n_globals,
                                                                  n * n_locals))], axis=-1)
  return -jnp.mean(jax.nn.log_softmax(logits, axis=-1)[..., 0])


def donsker_varadhan_loss(local: jax.Array, global_: jax.Array) -> jax.Array:
  """Donsker–Varadhan bound (DIM's ``dv`` mode) in the January-2019 official form (the current
  official function fails for most shapes): ``E_neg − E_pos`` with
  ``E_pos = Σ_{i,b} mean_a u[i,i,a,b] / N`` and ``E_neg = log Σ_{i≠j,a,b} exp(u) − log N(N−1)`` (a
  max-shifted log-sum-exp with ``+1e-6`` inside the log; locations are summed, not averaged)."""
  u = dim_scores(local, global_)
  n = u.shape[0]
  eye = jnp.eye(n, dtype=bool)[:, :, None, None]
  e_pos = jnp.sum(jnp.mean(jnp.diagonal(u, axis1=0, axis2=1), axis=0)) / n
  u_max = jax.lax.stop_gradient(jnp.max(u - 10.0 * eye))
  e_neg = (jnp.log(jnp.sum(jnp.where(eye, 0.0, jnp.exp(u - u_max))) + 1e-6) + u_max
           - math.log(n * (n - 1)))
  return e_neg - e_pos


def prior_matching_losses(d_prior: jax.Array, d_encoded: jax.Array, *,
                          measure: str = "GAN") -> dict[str, jax.Array]:
  """Adversarial prior matching of the global code: the discriminator minimises
  ``−(E_P[T(prior)] − E_Q[f*(T(encoded))])`` (gradient penalty not included), the encoder the
  non-saturating ``−E_P[T(encoded)]``. ``d_*`` are the discriminator's raw outputs."""
  positive, negative = _measure(measure)
  return {"discriminator": -(jnp.mean(positive(d_prior)) - jnp.mean(negative(d_encoded))),
          "encoder": -jnp.mean(positive(d_encoded))}
