"""Reciprocal-points network for open-set recognition (RPL / ARPL, Chen et al., ECCV 2020 / TPAMI 2021)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class ReciprocalPoints(nn.Module):
  """``backbone`` (outputting ``D``-dim features) plus the learnable reciprocal points ``[C·K, D]``
  (``0.1·N(0, 1)`` at init, rows class-major) and radius ``R`` (shape ``[1]``, 0 at init) of the
  official code. Returns the backbone's ``(features, aux)``; the losses in
  :mod:`jaxtricks.losses.open_set` read
  ``params["points"]`` and ``params["radius"]``."""

  backbone: nn.Module
  num_classes: int
  num_centers: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool, **kwargs) -> tuple[jax.Array, dict]:
    features, aux = self.backbone(x, train=train, **kwargs)
    self.param("points", lambda k, s: 0.1 * jax.random.normal(k, s),
               (self.num_classes * self.num_centers, features.shape[-1]))
    self.param("radius", nn.initializers.zeros, (1,))
    return features.astype(jnp.float32), aux
