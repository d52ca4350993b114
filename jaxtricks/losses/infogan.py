"""InfoGAN's losses (Chen et al., NeurIPS 2016), as openai/InfoGAN computes them (``TINY = 1e-8``).

The latent code is ``Categorical(K)`` plus continuous codes sampled from U(−1, 1) and *scored* as
Gaussians (``Uniform`` subclasses ``Gaussian`` there). Q's output per example is ``K`` logits, then
``(mean, log-variance)`` per continuous code. The mutual-information lower bound is
``MI ≈ H(c) − E[−log Q(c|x)]``, summed over the categorical and continuous codes, with
``log Q(c_cat|x) = Σ log(softmax + 1e-8)·onehot``, ``H(c_cat) = −Σ log(1/K + 1e-8)·onehot``, and
Gaussian ``log Q(c|x) = Σ_k −½ log 2π − log(σ + 1e-8) − ½((c − μ)/(σ + 1e-8))²`` with ``σ = 1``
(``fix_std``) or ``√exp(log-variance)``; the continuous "entropy" is the same density under N(0, 1).
Both players maximise it: ``L_D = −mean(log(D(x) + 1e-8) + log(1 − D(G(z)) + 1e-8)) − λ·MI`` (the Q
head is in D's variables) and ``L_G = −mean(log(D(G(z)) + 1e-8)) − λ·MI`` (non-saturating).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

TINY = 1e-8


def _gaussian_log_density(c: jax.Array, mean: jax.Array, std: jax.Array) -> jax.Array:
  z = (c - mean) / (std + TINY)
  return jnp.sum(-0.5 * np.log(2 * np.pi) - jnp.log(std + TINY) - 0.5 * jnp.square(z), axis=-1)


def mutual_information(q_output: jax.Array, cat_onehot: jax.Array, cont: jax.Array, *,
                       fix_std: bool = True) -> dict[str, jax.Array]:
  """The MI estimate and its parts, batch means (``disc_*`` categorical, ``cont_*`` continuous).

  ``q_output [B, K + 2·M]``, ``cat_onehot [B, K]``, ``cont [B, M]``."""
  chex.assert_rank([q_output, cat_onehot, cont], 2, custom_message="q_output, cat_onehot and cont "
                    "must be [B, columns]")
  k, m = cat_onehot.shape[-1], cont.shape[-1]
  chex.assert_shape(q_output, (cat_onehot.shape[0], k + 2 * m),
                    custom_message=f"q_output must be [B, K + 2·M = {k + 2 * m}]")
  q_prob = jax.nn.softmax(q_output[:, :k], axis=-1)
  disc_log_q_c_given_x = jnp.sum(jnp.log(q_prob + TINY) * cat_onehot, axis=-1)
  disc_log_q_c = jnp.sum(np.log(1.0 / k + TINY) * cat_onehot, axis=-1)
  mean, log_var = q_output[:, k::2], q_output[:, k + 1::2]
  std = jnp.ones_like(mean) if fix_std else jnp.sqrt(jnp.exp(log_var))
  cont_log_q_c_given_x = _gaussian_log_density(cont, mean, std)
  cont_log_q_c = _gaussian_log_density(cont, jnp.zeros_like(cont), jnp.ones_like(cont))
  out = {"disc_cross_ent": jnp.mean(-disc_log_q_c_given_x), "disc_ent": jnp.mean(-disc_log_q_c),
         "cont_cross_ent": jnp.mean(-cont_log_q_c_given_x), "cont_ent": jnp.mean(-cont_log_q_c)}
  out["disc_mi_est"] = out["disc_ent"] - out["disc_cross_ent"]
  out["cont_mi_est"] = out["cont_ent"] - out["cont_cross_ent"]
  out["mi_est"] = out["disc_mi_est"] + out["cont_mi_est"]
  out["cross_ent"] = out["disc_cross_ent"] + out["cont_cross_ent"]
  return out


def discriminator_loss(real_d: jax.Array, fake_d: jax.Array, mi_est: jax.Array,
                       info_weight: float = 1.0) -> jax.Array:
  """``−mean(log(D(x) + 1e-8) + log(1 − D(G(z)) + 1e-8)) − λ·MI``; ``real_d``, ``fake_d`` are
  sigmoid outputs."""
  return -jnp.mean(jnp.log(real_d + TINY) + jnp.log(1.0 - fake_d + TINY)) - info_weight * mi_est


def generator_loss(fake_d: jax.Array, mi_est: jax.Array, info_weight: float = 1.0) -> jax.Array:
  """``−mean(log(D(G(z)) + 1e-8)) − λ·MI`` (the non-saturating generator loss)."""
  return -jnp.mean(jnp.log(fake_d + TINY)) - info_weight * mi_est
