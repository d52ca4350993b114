"""InfoGAN's MNIST networks (openai/InfoGAN ``regularized_gan.py``), for ``size × size`` images with
``size`` divisible by 4 (28 in the paper; 8 for the embedded digits).

Discriminator trunk: conv 64 (4×4, stride 2) → leaky ReLU (slope 0.01); conv 128 (4×4, stride 2) →
BN → leaky ReLU; dense 1024 → BN → leaky ReLU. D head: dense 1 → sigmoid. Q head: dense 128 → BN →
leaky ReLU → dense ``K + 2·M`` (categorical logits, then mean and log-variance per continuous code).
Generator: dense 1024 → BN → ReLU; dense (size/4)²·128 → BN → ReLU; deconv 64 (4×4, stride 2) → BN →
ReLU; deconv C (4×4, stride 2) → sigmoid (the Bernoulli mean image). Weights N(0, 0.02) (truncated for
convolutions), BN γ ~ N(1, 0.02); a layer followed by BN has no bias (BN's β replaces it: its gradient
is zero, and Adam would turn the rounding noise of that zero into full-size steps). ``width`` scales
every layer's size (1 = the official widths).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

LEAK = 0.01
dense_init = nn.initializers.normal(0.02)
conv_init = nn.initializers.truncated_normal(0.02)


def _gamma_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _norm(train: bool, axis_name: str | None, dtype):
  """BatchNorm with the two-pass variance ``E[(x − E x)²]``: an untrained generator's samples barely
  vary, and the one-pass ``E[x²] − (E x)²`` then cancels to rounding noise that depends on how the
  batch is split over devices (tf.nn.moments, the reference's, is two-pass as well)."""
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype,
                      scale_init=_gamma_init, axis_name=axis_name if train else None,
                      use_fast_variance=False)


class Discriminator(nn.Module):
  """``[B, H, W, C] → (D(x) [B] sigmoid probabilities, Q(x) [B, code_outputs])``."""

  code_outputs: int = 14
  width: float = 1.0
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, jax.Array]:
    w = lambda n: max(1, int(n * self.width))
    conv = functools.partial(nn.Conv, kernel_size=(4, 4), strides=(2, 2), padding="SAME",
                             kernel_init=conv_init, dtype=self.dtype)
    dense = functools.partial(nn.Dense, kernel_init=dense_init, dtype=self.dtype)
    norm = functools.partial(_norm, train, self.axis_name, self.dtype)
    x = nn.leaky_relu(conv(w(64))(x.astype(self.dtype)), LEAK)
    x = nn.leaky_relu(norm()(conv(w(128), use_bias=False)(x)), LEAK)
    h = nn.leaky_relu(norm()(dense(w(1024), use_bias=False)(x.reshape(x.shape[0], -1))), LEAK)
    d = nn.sigmoid(dense(1)(h).astype(jnp.float32))[:, 0]
    q = nn.leaky_relu(norm()(dense(w(128), use_bias=False)(h)), LEAK)
    return d, dense(self.code_outputs)(q).astype(jnp.float32)


class Generator(nn.Module):
  """``[B, latent] → [B, size, size, channels]`` images in (0, 1)."""

  size: int = 8
  channels: int = 1
  width: float = 1.0
  dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    if self.size % 4:
      raise ValueError(f"the image size must be a multiple of 4, got {self.size}")
    w = lambda n: max(1, int(n * self.width))
    dense = functools.partial(nn.Dense, kernel_init=dense_init, dtype=self.dtype)
    deconv = functools.partial(nn.ConvTranspose, kernel_size=(4, 4), strides=(2, 2), padding="SAME",
                               kernel_init=conv_init, dtype=self.dtype)
    norm = functools.partial(_norm, train, self.axis_name, self.dtype)
    s = self.size // 4
    x = nn.relu(norm()(dense(w(1024), use_bias=False)(z.astype(self.dtype))))
    x = nn.relu(norm()(dense(s * s * w(128), use_bias=False)(x))).reshape(z.shape[0], s, s, w(128))
    x = nn.relu(norm()(deconv(w(64), use_bias=False)(x)))
    return nn.sigmoid(deconv(self.channels)(x).astype(jnp.float32))
